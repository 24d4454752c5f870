// Gathering selected rows of an Arrow string column into a new, compact (offsets, data) pair.

// One thread per output row copies its bytes; dst_offsets (int64, starting at 0) is computed
// beforehand from the row lengths.
extern "C" __global__ void gather_strings(const long long* __restrict__ src_offsets,
                                          const unsigned char* __restrict__ src_data,
                                          const long long* __restrict__ rows, long long n,
                                          const long long* __restrict__ dst_offsets,
                                          unsigned char* __restrict__ dst_data) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const unsigned char* src = src_data + src_offsets[rows[i]];
        unsigned char* dst = dst_data + dst_offsets[i];
        const long long len = dst_offsets[i + 1] - dst_offsets[i];
        for (long long j = 0; j < len; ++j) dst[j] = src[j];
    }
}
