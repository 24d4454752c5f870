// Element-wise numeric transforms: the fused per-column step program and bucketize.

#define RAYLANE_BLOCK 256
#define RAYLANE_UNROLL 4
#define RAYLANE_MAX_STEPS 32

enum Opcode { NOP = 0, FILL = 1, CLIP = 2, LOG1P = 3, SCALE = 4, ZERO = 5 };

__device__ __forceinline__ double raylane_nan() { return __longlong_as_double(0x7ff8000000000000LL); }

__device__ __forceinline__ double apply_step(double x, int opcode, double a, double b) {
    switch (opcode) {
        case FILL: return isnan(x) ? a : x;
        case CLIP: {  // numpy.clip: a NaN x, or a NaN bound, propagates
            const double lower = (x < a || isnan(a)) ? a : x;
            return (lower > b || isnan(b)) ? b : lower;
        }
        case LOG1P: return x <= -1.0 ? raylane_nan() : log1p(x);
        case SCALE: return (x - a) / b;
        case ZERO: return isnan(x) ? x : 0.0;
        default: return x;
    }
}

__device__ __forceinline__ double run_program(double x, const double* program, int steps) {
    for (int s = 0; s < steps; ++s) {
        const int opcode = (int)program[3 * s];
        if (opcode == NOP) continue;  // padding: no step, so no rounding either
        x = apply_step(x, opcode, program[3 * s + 1], program[3 * s + 2]);
        x = (double)(float)x;  // the contract rounds through float32 after every step
    }
    return x;
}

// values: float64[c, n] row-major; program: float64[c, steps, 3]; out: float32[c, n].
// blockIdx.y picks the column, so its program sits in shared memory for the whole block.
// Each thread keeps RAYLANE_UNROLL independent loads in flight to saturate memory bandwidth.
extern "C" __global__ void __launch_bounds__(RAYLANE_BLOCK)
numeric_chain(const double* __restrict__ values, const double* __restrict__ program,
              long long n, int steps, float* __restrict__ out) {
    __shared__ double column_program[3 * RAYLANE_MAX_STEPS];
    const long long column = blockIdx.y;
    for (int t = threadIdx.x; t < 3 * steps; t += blockDim.x) {
        column_program[t] = program[column * 3 * steps + t];
    }
    __syncthreads();
    const double* x_column = values + column * n;
    float* out_column = out + column * n;
    const long long tile = (long long)RAYLANE_UNROLL * blockDim.x;
    for (long long base = blockIdx.x * tile; base < n; base += (long long)gridDim.x * tile) {
        double x[RAYLANE_UNROLL];
#pragma unroll
        for (int u = 0; u < RAYLANE_UNROLL; ++u) {
            const long long i = base + u * blockDim.x + threadIdx.x;
            x[u] = i < n ? x_column[i] : 0.0;
        }
#pragma unroll
        for (int u = 0; u < RAYLANE_UNROLL; ++u) {
            const long long i = base + u * blockDim.x + threadIdx.x;
            if (i < n) out_column[i] = (float)run_program(x[u], column_program, steps);
        }
    }
}

// NaN -> 0; else the number of edges <= x, plus 1 (searchsorted side="right" + 1).
extern "C" __global__ void bucketize(const double* __restrict__ values, long long n,
                                     const double* __restrict__ edges, long long num_edges,
                                     long long* __restrict__ out) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const double x = values[i];
        if (isnan(x)) {
            out[i] = 0;
            continue;
        }
        long long lo = 0, hi = num_edges;
        while (lo < hi) {
            const long long mid = lo + ((hi - lo) >> 1);
            if (edges[mid] <= x) lo = mid + 1; else hi = mid;
        }
        out[i] = lo + 1;
    }
}
