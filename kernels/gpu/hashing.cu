// MurmurHash3 x86_32 of int64 values and of Arrow string rows.
// `seeds` has one entry per row (seed_step = 1) or a single shared entry (seed_step = 0).
#include "murmur3.cuh"

extern "C" __global__ void murmur3_int64(const long long* __restrict__ values,
                                         const unsigned int* __restrict__ seeds,
                                         long long seed_step, long long n,
                                         unsigned int* __restrict__ out) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        out[i] = raylane_murmur3_int64(values[i], seeds[i * seed_step]);
    }
}

// Arrow offsets are absolute positions into `data` (they need not start at 0).
template <typename Offset>
__device__ __forceinline__ void murmur3_strings_rows(const Offset* __restrict__ offsets,
                                                     const unsigned char* __restrict__ data,
                                                     const unsigned int* __restrict__ seeds,
                                                     long long seed_step, long long n,
                                                     unsigned int* __restrict__ out) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const long long start = (long long)offsets[i];
        const long long len = (long long)offsets[i + 1] - start;
        out[i] = raylane_murmur3_bytes(data + start, len, seeds[i * seed_step]);
    }
}

extern "C" __global__ void murmur3_strings_i32(const int* __restrict__ offsets,
                                               const unsigned char* __restrict__ data,
                                               const unsigned int* __restrict__ seeds,
                                               long long seed_step, long long n,
                                               unsigned int* __restrict__ out) {
    murmur3_strings_rows(offsets, data, seeds, seed_step, n, out);
}

extern "C" __global__ void murmur3_strings_i64(const long long* __restrict__ offsets,
                                               const unsigned char* __restrict__ data,
                                               const unsigned int* __restrict__ seeds,
                                               long long seed_step, long long n,
                                               unsigned int* __restrict__ out) {
    murmur3_strings_rows(offsets, data, seeds, seed_step, n, out);
}
