# The datagram classifier (include/quicsteer/classify.h), I/O-free.
qs_unit_test(test_classify)

# The steering program in the real kernel (root, its own network namespace).
qs_unit_test(test_steer)
set_tests_properties(test_steer PROPERTIES TIMEOUT 300)
