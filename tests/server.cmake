# quicsteer-server (docs/server.md): unit tests of its I/O-free modules and
# system tests driving the real server on loopback with gtlsclient and
# headless Chromium (python3 drivers, tests/test_server_*.py).  Each system
# test starts its own server on port 0 under its own --name, so they can run
# in parallel.  A missing peer program (gtlsclient, chromium) or, for the
# kernel-steering variant, missing BPF: exit 77, reported as a skip.
foreach(t test_server_cidtab test_server_http test_server_filecache test_server_encoding
          test_server_multipart
          test_server_config
          test_server_mpool test_server_accesslog
          test_server_h1 test_server_admit test_server_token
          test_server_replay test_server_pkey)
  add_executable(${t} ${t}.c)
  target_link_libraries(${t} PRIVATE quicsteer-server-core PkgConfig::CMOCKA)
  add_test(NAME ${t} COMMAND ${t})
endforeach()
target_compile_definitions(test_server_http PRIVATE QS_TEST_DATA="${QS_TEST_DATA}")

find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(QS_SRV $<TARGET_FILE:quicsteer-server>)
function(qs_server_test name script)
  add_test(NAME ${name}
           COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/${script} ${QS_SRV} ${ARGN})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endfunction()

qs_server_test(test_server_download_1 test_server_download.py 1 --no-bpf)
qs_server_test(test_server_download_2 test_server_download.py 2 --no-bpf --big 200)
qs_server_test(test_server_download_4 test_server_download.py 4 --no-bpf)
qs_server_test(test_server_download_bpf test_server_download.py 2
                --cli $<TARGET_FILE:quicsteer_cli>)
qs_server_test(test_server_http_errors test_server_http.py $<TARGET_FILE:quicsteer-load>)
qs_server_test(test_server_badinput test_server_badinput.py)
qs_server_test(test_server_ports test_server_ports.py)
qs_server_test(test_server_migration_2 test_server_migration.py 2 --no-bpf
                $<TARGET_FILE:quicsteer_cli>)
qs_server_test(test_server_migration_4 test_server_migration.py 4 --no-bpf
                $<TARGET_FILE:quicsteer_cli>)
qs_server_test(test_server_migration_bpf_2 test_server_migration.py 2 --bpf
                $<TARGET_FILE:quicsteer_cli>)
qs_server_test(test_server_migration_bpf_4 test_server_migration.py 4 --bpf
                $<TARGET_FILE:quicsteer_cli>)
qs_server_test(test_server_sigterm test_server_sigterm.py 2)
qs_server_test(test_server_chromium test_server_chromium.py)
qs_server_test(test_server_chromium_tcp test_server_chromium.py tcp)
qs_server_test(test_server_robust test_server_robust.py)
qs_server_test(test_server_retry test_server_features.py retry)
qs_server_test(test_server_versions test_server_versions.py)
qs_server_test(test_server_observe test_server_features.py observe)
qs_server_test(test_server_takeover_userspace test_server_features.py takeover)
qs_server_test(test_server_conffile test_server_conffile.py)
qs_server_test(test_server_accesslog_system test_server_accesslog.py
               $<TARGET_FILE:quicsteer-load>)
# issue 9.3: an Initial reusing a worker's CID is hashed, not aimed
qs_server_test(test_server_aim test_server_aim.py --no-bpf)
qs_server_test(test_server_aim_bpf test_server_aim.py --bpf $<TARGET_FILE:quicsteer_cli>)
# the TCP front: curl (HTTP/1.1, HTTP/2) and h2load against the TCP port
qs_server_test(test_server_tcp test_server_tcp.py)
# static-file rules (Date, ETag, conditional requests) over the TCP front
qs_server_test(test_server_static test_server_static.py)
# precompressed siblings (.br, .gz) over HTTP/1.1, HTTP/2 and HTTP/3
qs_server_test(test_server_precompressed test_server_precompressed.py
               $<TARGET_FILE:quicsteer-load>)

# several worker threads (and relaying between them): the TSan build runs
# these again
set_tests_properties(test_server_download_2 test_server_download_4 test_server_migration_2
                     test_server_migration_4 test_server_migration_bpf_2 test_server_sigterm
                     test_server_robust test_server_takeover_userspace
                     test_server_accesslog_system test_server_conffile test_server_tcp
                     PROPERTIES LABELS tsan)

# test_server_config reads the shipped example and docs/config.md
target_compile_definitions(test_server_config PRIVATE QS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# the reverse proxy (docs/proxy.md): tests/upstream.py and Debian's nginx
# as upstreams, gtlsclient and quicsteer-load as clients
qs_server_test(test_server_proxy_basic test_server_proxy.py basic)
qs_server_test(test_server_proxy_nginx test_server_proxy.py nginx $<TARGET_FILE:quicsteer-load>)
qs_server_test(test_server_proxy_big test_server_proxy.py big)
set_tests_properties(test_server_proxy_basic test_server_proxy_nginx PROPERTIES LABELS tsan)

# admission control under Initial floods (quicsteer-flood, src/load/flood.c)
foreach(c caps flood token)
  qs_server_test(test_server_flood_${c} test_server_flood.py $<TARGET_FILE:quicsteer-flood>
                 $<TARGET_FILE:quicsteer-load> ${c})
endforeach()
set_tests_properties(test_server_flood_flood test_server_flood_token PROPERTIES LABELS tsan)

# TLS resumption and 0-RTT (docs/server.md): every worker, takeovers
set(QS_CLI $<TARGET_FILE:quicsteer_cli>)
qs_server_test(test_server_resume_2 test_server_resume.py ${QS_CLI} workers 2)
qs_server_test(test_server_resume_4 test_server_resume.py ${QS_CLI} workers 4 --no-bpf)
qs_server_test(test_server_resume_takeover test_server_resume.py ${QS_CLI} takeover)
qs_server_test(test_server_resume_takeover_userspace test_server_resume.py ${QS_CLI} takeover
               --no-bpf)
qs_server_test(test_server_resume_no_early test_server_resume.py ${QS_CLI} no-early-data)
qs_server_test(test_server_resume_proxy test_server_resume.py ${QS_CLI} proxy)
qs_server_test(test_server_resume_rotation test_server_resume.py ${QS_CLI} rotation)
set_tests_properties(test_server_resume_2 test_server_resume_4 test_server_resume_proxy
                     PROPERTIES LABELS tsan)
