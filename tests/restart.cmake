# Zero-downtime restart and key rotation (docs/restart.md): takeovers and a
# rotation under continuous quicsteer-load traffic, SIGKILL and a fresh start.
qs_server_test(test_restart test_restart.py $<TARGET_FILE:quicsteer-load>
               $<TARGET_FILE:quicsteer_cli>)
set_tests_properties(test_restart PROPERTIES LABELS tsan)
