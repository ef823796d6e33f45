# The datagram classifier (include/quicsteer/classify.h), I/O-free.
qs_unit_test(test_classify)

# The steering program in the real kernel (root, its own network namespace).
qs_unit_test(test_steer)
set_tests_properties(test_steer PROPERTIES TIMEOUT 300)

# The kernel's decisions against the workers' user-space classifier, one
# corpus through both (real sockets, own network namespace).
qs_unit_test(test_steer_diff)
set_tests_properties(test_steer_diff PROPERTIES TIMEOUT 300)

# The kernel's decoded-CID cache: hit path and invalidation.
qs_unit_test(test_steer_cache)
