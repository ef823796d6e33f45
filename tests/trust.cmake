# Trust on a shared host (docs/server.md "Running as another user", docs/restart.md):
# other users' processes cannot affect a server through its sockets, --user
# drops privileges in every thread and survives a takeover, generation
# numbers never repeat, and key rotation can go on forever.
foreach(c peers user gens rotate)
  qs_server_test(test_trust_${c} test_trust.py $<TARGET_FILE:quicsteer-load>
                 $<TARGET_FILE:quicsteer_cli> ${c})
endforeach()
set_tests_properties(test_trust_user test_trust_gens test_trust_rotate PROPERTIES LABELS tsan)
# cmocka: the peer check and control client (lib/control.c), generation
# numbers and their record (lib/generation.c)
qs_unit_test(test_control)
qs_unit_test(test_generation)
# cmocka: every relay result (io/relay.c): a live owner that is behind is a
# counted drop, never "unreachable"
add_executable(test_server_relay test_server_relay.c)
target_link_libraries(test_server_relay PRIVATE quicsteer-server-core PkgConfig::CMOCKA)
add_test(NAME test_server_relay COMMAND test_server_relay)
