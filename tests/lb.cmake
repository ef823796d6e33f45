# The I/O-free core: header parser, QUIC-LB codec, SipHash, secrets, helpers
# (one cmocka file per module), and the `quicsteer cid` operator commands.
qs_unit_test(test_quic_header)
qs_unit_test(test_lb)
qs_unit_test(test_siphash)
qs_unit_test(test_reset)
qs_unit_test(test_util)

# Python runs only the tests (scripts/deps.sh test installs it); a build
# without it still configures, and the test then fails rather than skips.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME test_cli_cid
           COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_cid.py
                   $<TARGET_FILE:quicsteer_cli>)
else()
  message(WARNING "python3 not found: test_cli_cid will fail")
  add_test(NAME test_cli_cid COMMAND ${CMAKE_COMMAND} -E false)
endif()
set_tests_properties(test_cli_cid PROPERTIES ENVIRONMENT "QS_VECTORS=${QS_VECTORS}")
