#include <hip/hip_runtime.h>
#include <stdint.h>
typedef float floatx4 __attribute__((ext_vector_type(4)));
typedef int intx8 __attribute__((ext_vector_type(8)));
// out[0..255]: VGPR-accumulator result; out[256..511]: AGPR-accumulator result (per lane 4 floats)
extern "C" __global__ void k(float* out, const intx8* a, const intx8* b) {
    int l = threadIdx.x;
    intx8 av = a[l], bv = b[l];
    floatx4 c1 = {1.f, 2.f, 3.f, 4.f};
    floatx4 c2 = {1.f, 2.f, 3.f, 4.f};
    asm volatile("v_mfma_f32_16x16x128_f8f6f4 %0, %1, %2, %0" : "+v"(c1) : "v"(av), "v"(bv));
    asm volatile("v_mfma_f32_16x16x128_f8f6f4 %0, %1, %2, %0" : "+a"(c2) : "v"(av), "v"(bv));
    asm volatile("s_nop 7\n s_nop 7\n s_nop 7");
    for (int i = 0; i < 4; ++i) { out[l * 4 + i] = c1[i]; out[256 + l * 4 + i] = c2[i]; }
}
