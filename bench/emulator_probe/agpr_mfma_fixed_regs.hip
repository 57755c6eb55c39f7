#include <hip/hip_runtime.h>
typedef float floatx4 __attribute__((ext_vector_type(4)));
typedef int intx8 __attribute__((ext_vector_type(8)));
extern "C" __global__ __launch_bounds__(64, 1) void k(float* out, const intx8* a, const intx8* b) {
    int l = threadIdx.x;
    intx8 av = a[l], bv = b[l];
    floatx4 c1 = {1.f, 2.f, 3.f, 4.f};
    floatx4 r;
    asm volatile("v_mfma_f32_16x16x128_f8f6f4 %0, %1, %2, %0\n s_nop 7\n s_nop 7" : "+v"(c1) : "v"(av), "v"(bv));
    asm volatile(
        "v_accvgpr_write_b32 a246, 1.0\n v_accvgpr_write_b32 a247, 2.0\n v_accvgpr_write_b32 a248, 0.5\n v_accvgpr_write_b32 a249, 4.0\n"
        "s_nop 7\n"
        "v_mfma_f32_16x16x128_f8f6f4 a[250:253], %1, %2, a[246:249]\n s_nop 7\n s_nop 7\n s_nop 7\n"
                "v_accvgpr_read_b32 %0, a250\n s_nop 1"
        : "=v"(r[0]) : "v"(av), "v"(bv) : "a200","a201","a202","a203","a246","a247","a248","a249","a250","a251","a252","a253");
    asm volatile("v_accvgpr_read_b32 %0, a251\n v_accvgpr_read_b32 %1, a252\n v_accvgpr_read_b32 %2, a253\n s_nop 1" : "=v"(r[1]), "=v"(r[2]), "=v"(r[3]));
    for (int i = 0; i < 4; ++i) { out[l * 4 + i] = c1[i]; out[256 + l * 4 + i] = r[i]; }
}
