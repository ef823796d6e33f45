# Beyond one host (docs/fleet.md): two quicsteer-server hosts in their own
# network namespaces behind an nftables/conntrack balancer that routes short
# headers by the clear server ID; clients rebind and migrate mid-download.
# Root only (namespaces, nftables, BPF), as CI runs; no skip.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME test_fleet
         COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/test_fleet.py
                 $<TARGET_FILE:quicsteer-server> $<TARGET_FILE:quicsteer-load>
                 $<TARGET_FILE:quicsteer_cli>)
set_tests_properties(test_fleet PROPERTIES TIMEOUT 300)
