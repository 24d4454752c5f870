// Fit-time reductions: moments (count, mean, m2), min/max, and per-group counts and sums.
// Reductions run in two launches: one block per slice of the input writes a partial, then a
// single block merges the partials. Block-level merging is a shared-memory tree (blockDim.x
// must be a power of two, RAYLANE_BLOCK at most).

#define RAYLANE_BLOCK 256
#define RAYLANE_SHARED_GROUPS 2048

struct Moments {
    double count, mean, m2;
};

// Chan et al. parallel update; exact for counts, stable for the centred second moment.
__device__ __forceinline__ Moments merge_moments(Moments a, Moments b) {
    const double count = a.count + b.count;
    if (count == 0.0) return a;
    const double delta = b.mean - a.mean;
    const double wb = b.count / count;
    Moments r;
    r.count = count;
    r.mean = a.mean + delta * wb;
    r.m2 = a.m2 + b.m2 + delta * delta * a.count * wb;
    return r;
}

__device__ __forceinline__ void store_block_moments(Moments m, double* counts, double* means,
                                                    double* m2s) {
    __shared__ double s_count[RAYLANE_BLOCK], s_mean[RAYLANE_BLOCK], s_m2[RAYLANE_BLOCK];
    const int t = threadIdx.x;
    s_count[t] = m.count;
    s_mean[t] = m.mean;
    s_m2[t] = m.m2;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (t < half) {
            const Moments a = {s_count[t], s_mean[t], s_m2[t]};
            const Moments b = {s_count[t + half], s_mean[t + half], s_m2[t + half]};
            const Moments r = merge_moments(a, b);
            s_count[t] = r.count;
            s_mean[t] = r.mean;
            s_m2[t] = r.m2;
        }
        __syncthreads();
    }
    if (t == 0) {
        counts[blockIdx.x] = s_count[0];
        means[blockIdx.x] = s_mean[0];
        m2s[blockIdx.x] = s_m2[0];
    }
}

// Pass 1: Welford over each thread's strided rows (NaN skipped), one partial per block.
extern "C" __global__ void __launch_bounds__(RAYLANE_BLOCK)
moments_partial(const double* __restrict__ values, long long n, double* counts, double* means,
                double* m2s) {
    Moments m = {0.0, 0.0, 0.0};
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const double x = values[i];
        if (isnan(x)) continue;
        m.count += 1.0;
        const double delta = x - m.mean;
        m.mean += delta / m.count;
        m.m2 += delta * (x - m.mean);
    }
    store_block_moments(m, counts, means, m2s);
}

// Pass 2 (launch with gridDim.x == 1): merge `p` partials into element 0 of the outputs.
extern "C" __global__ void __launch_bounds__(RAYLANE_BLOCK)
moments_merge(const double* __restrict__ in_counts, const double* __restrict__ in_means,
              const double* __restrict__ in_m2s, long long p, double* counts, double* means,
              double* m2s) {
    Moments m = {0.0, 0.0, 0.0};
    for (long long i = threadIdx.x; i < p; i += blockDim.x) {
        const Moments b = {in_counts[i], in_means[i], in_m2s[i]};
        m = merge_moments(m, b);
    }
    store_block_moments(m, counts, means, m2s);
}

// fmin/fmax ignore a NaN operand, so NaN is both the identity and the "no value" result.
// Used twice: over the values (mins_in == maxs_in), then with one block over the partials.
extern "C" __global__ void __launch_bounds__(RAYLANE_BLOCK)
min_max_partial(const double* __restrict__ mins_in, const double* __restrict__ maxs_in,
                long long n, double* mins_out, double* maxs_out) {
    __shared__ double s_min[RAYLANE_BLOCK], s_max[RAYLANE_BLOCK];
    const double nan = __longlong_as_double(0x7ff8000000000000LL);
    double lo = nan, hi = nan;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        lo = fmin(lo, mins_in[i]);
        hi = fmax(hi, maxs_in[i]);
    }
    const int t = threadIdx.x;
    s_min[t] = lo;
    s_max[t] = hi;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (t < half) {
            s_min[t] = fmin(s_min[t], s_min[t + half]);
            s_max[t] = fmax(s_max[t], s_max[t + half]);
        }
        __syncthreads();
    }
    if (t == 0) {
        mins_out[blockIdx.x] = s_min[0];
        maxs_out[blockIdx.x] = s_max[0];
    }
}

// Per-group row counts and sums of y. Counts are exact. Sums use floating-point atomics, so
// their rounding depends on the order rows arrive in; integer-valued y (0/1 labels) sums
// exactly (below 2**53) and is therefore deterministic. A code outside [0, num_groups) sets
// *bad and the row is skipped.
extern "C" __global__ void group_sums_global(const long long* __restrict__ codes,
                                             const double* __restrict__ y, long long n,
                                             long long num_groups, double* counts, double* sums,
                                             int* bad) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const long long g = codes[i];
        if (g < 0 || g >= num_groups) {
            atomicOr(bad, 1);
            continue;
        }
        atomicAdd(counts + g, 1.0);
        atomicAdd(sums + g, y[i]);
    }
}

// Few groups (<= RAYLANE_SHARED_GROUPS): accumulate per block in shared memory first, so
// rows of a popular group do not all contend on one global address.
extern "C" __global__ void __launch_bounds__(RAYLANE_BLOCK)
group_sums_shared(const long long* __restrict__ codes, const double* __restrict__ y, long long n,
                  long long num_groups, double* counts, double* sums, int* bad) {
    __shared__ double s_counts[RAYLANE_SHARED_GROUPS], s_sums[RAYLANE_SHARED_GROUPS];
    for (long long g = threadIdx.x; g < num_groups; g += blockDim.x) {
        s_counts[g] = 0.0;
        s_sums[g] = 0.0;
    }
    __syncthreads();
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const long long g = codes[i];
        if (g < 0 || g >= num_groups) {
            atomicOr(bad, 1);
            continue;
        }
        atomicAdd(s_counts + g, 1.0);
        atomicAdd(s_sums + g, y[i]);
    }
    __syncthreads();
    for (long long g = threadIdx.x; g < num_groups; g += blockDim.x) {
        if (s_counts[g] != 0.0) {
            atomicAdd(counts + g, s_counts[g]);
            atomicAdd(sums + g, s_sums[g]);
        }
    }
}
