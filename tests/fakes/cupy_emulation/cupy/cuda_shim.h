// Host emulation of the CUDA C++ the raylane kernels use; see cupy/__init__.py for what it does
// not emulate. g++ compiles a kernel source with this header forced in front (-include).
// A launch runs its blocks one after another; a block's threads are std::threads that meet at a
// std::barrier in __syncthreads. __shared__ is a function-local static: with one block running at
// a time, it is that block's shared memory.
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>
#include <type_traits>
#include <vector>

using std::fmax;
using std::fmin;
using std::isnan;
using std::log1p;

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emulated_block_barrier = nullptr;

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static

inline void __syncthreads() { emulated_block_barrier->arrive_and_wait(); }

inline double __longlong_as_double(long long bits) {
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// CUDA's atomics return the old value. The operand type follows the pointer, as CUDA's
// overloads convert it.
template <class T>
using emulated_operand = std::type_identity_t<T>;

template <class T>
T atomicAdd(T* address, emulated_operand<T> value) {
    return std::atomic_ref<T>(*address).fetch_add(value);
}

template <class T>
T atomicOr(T* address, emulated_operand<T> value) {
    return std::atomic_ref<T>(*address).fetch_or(value);
}

template <class T>
T atomicCAS(T* address, emulated_operand<T> compare, emulated_operand<T> value) {
    std::atomic_ref<T>(*address).compare_exchange_strong(compare, value);
    return compare;
}

template <class T>
T atomicMin(T* address, emulated_operand<T> value) {
    std::atomic_ref<T> ref(*address);
    T old = ref.load();
    while (value < old && !ref.compare_exchange_weak(old, value)) {
    }
    return old;
}

// One thread per thread of a block, reused for every block: all of them finish a block (the
// barrier) before any starts the next, so the block's __shared__ statics are free again.
inline void emulated_launch(unsigned grid_x, unsigned grid_y, unsigned block_x,
                            const std::function<void()>& kernel_body) {
    blockDim = {block_x, 1, 1};
    gridDim = {grid_x, grid_y, 1};
    std::barrier<> barrier(block_x);
    emulated_block_barrier = &barrier;
    std::vector<std::jthread> threads;
    for (unsigned t = 0; t < block_x; ++t) {
        threads.emplace_back([&, t] {
            threadIdx = {t, 0, 0};
            for (unsigned by = 0; by < grid_y; ++by) {
                for (unsigned bx = 0; bx < grid_x; ++bx) {
                    blockIdx = {bx, by, 0};
                    kernel_body();
                    barrier.arrive_and_wait();
                }
            }
        });
    }
}  // the jthreads join here, before the barrier they use is destroyed

// emulated_entry_<name>: a pointer to a function (grid_x, grid_y, block_x, kernel arguments...)
// that launches kernel <name>; Python reads it with ctypes and calls it with checked arguments.
template <class Signature>
struct EmulatedKernel;
template <class... Args>
struct EmulatedKernel<void (*)(Args...)> {
    template <auto kernel>
    static void launch(unsigned grid_x, unsigned grid_y, unsigned block_x, Args... args) {
        emulated_launch(grid_x, grid_y, block_x, [&] { kernel(args...); });
    }
};
#define EMULATED_KERNEL_ENTRY(name)                                                            \
    extern "C" {                                                                               \
    void* emulated_entry_##name = (void*)&EmulatedKernel<decltype(&name)>::template launch<&name>; \
    }
