# The hand-written AES-128 of the BPF program (bpf/aes128.h), checked in
# user space against FIPS-197, nettle and the QUIC-LB vectors.
qs_unit_test(test_aes128)
target_link_libraries(test_aes128 PRIVATE PkgConfig::NETTLE)
