# Compile a BPF C source with clang -target bpf and generate its libbpf
# skeleton with bpftool.  qs_bpf_object(NAME SRC) defines target NAME_skel
# with ${CMAKE_CURRENT_BINARY_DIR} holding NAME.bpf.o and NAME.skel.h.
find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)

execute_process(COMMAND uname -m OUTPUT_VARIABLE QS_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(QS_ARCH STREQUAL "x86_64")
  set(QS_BPF_ARCH x86)
elseif(QS_ARCH STREQUAL "aarch64")
  set(QS_BPF_ARCH arm64)
else()
  set(QS_BPF_ARCH ${QS_ARCH})
endif()

function(qs_bpf_object name src)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    # -fno-builtin: clang would turn the shared headers' bounded byte loops
    # into memcpy/memset calls of variable length, which BPF cannot call.
    # -mcpu=v3 (32-bit jumps and ALU, kernel >= 5.1): the table AES runs
    # 14-18% faster and smaller (BENCHMARKS.md).
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -mcpu=v3 -fno-builtin -D__TARGET_ARCH_${QS_BPF_ARCH}
            -Wall -Werror -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
            -I/usr/include/${QS_ARCH}-linux-gnu
            -c ${src} -o ${obj}
    DEPENDS ${src} ${ARGN}
    IMPLICIT_DEPENDS C ${src}
    COMMENT "BPF ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel DEPENDS ${skel})
endfunction()
