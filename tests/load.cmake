# quicsteer-load: unit tests of its I/O-free modules (options, statistics,
# timer heap) and end-to-end runs against Debian's gtlsserver on loopback
# (tests/test_load_system.py; skipped, exit 77, if ngtcp2-server is absent).
foreach(t test_load_opts test_load_stats test_load_heap)
  add_executable(${t} ${t}.c)
  target_link_libraries(${t} PRIVATE qsload_core PkgConfig::CMOCKA)
  add_test(NAME ${t} COMMAND ${t})
endforeach()

find_package(Python3 REQUIRED COMPONENTS Interpreter)
foreach(case keepalive newconn rebind migrate status404 verify_bytes unreachable usage
             duration_rate threads tls ipv6)
  add_test(NAME test_load_${case}
           COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/test_load_system.py
                   $<TARGET_FILE:quicsteer-load> ${case})
  set_tests_properties(test_load_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
# several event-loop threads: the TSan build runs these again
set_tests_properties(test_load_threads test_load_keepalive PROPERTIES LABELS tsan)

# quicsteer-load against quicsteer-server (tests/test_load_quicsteer.py; the
# pairing bench/run.py measures): keep-alive, new connections, /bytes/N,
# --latency-hist, --hold, and every --rebind/--migrate finishing with 2
# workers under kernel steering (exit 77 without BPF) and user-space
# forwarding, and counted as lost under plain SO_REUSEPORT (--no-forward).
foreach(case basic rebind_bpf migrate_bpf rebind_user migrate_user noforward hold)
  add_test(NAME test_load_qs_${case}
           COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/test_load_quicsteer.py
                   $<TARGET_FILE:quicsteer-load> $<TARGET_FILE:quicsteer-server> ${case})
  set_tests_properties(test_load_qs_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
# client threads (--hold -t 2) and relaying between workers: TSan too
set_tests_properties(test_load_qs_hold test_load_qs_rebind_user PROPERTIES LABELS tsan)
