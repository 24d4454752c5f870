// Exact key -> position lookup through an open-addressing hash table (linear probing).
// Lookups compare the full key, so a value never matches a key it differs from. The table is
// filled by one launch of an insert kernel and then only read, so each probe of a lookup is a
// single load of one slot:
//   * int64 keys: a slot is {key, position}, position -1 when empty;
//   * string keys: a slot is one 64-bit word (hash << 32 | position), all ones when empty; the
//     bytes are compared only when the 32-bit hash matches.
// Insert kernels also serve value counting: with has_counts, every row adds 1 to the counter of
// the slot holding its key. A key met more than once keeps its smallest position (atomicMin), so
// the table does not depend on thread scheduling.
#include "murmur3.cuh"

#define RAYLANE_TABLE_SEED 0x9747b28cu
#define RAYLANE_EMPTY 0xffffffffffffffffull

struct alignas(16) IntSlot {
    long long key;
    long long position;
};

// During an insert launch a slot's key field may not be written yet, so a claimed slot is
// compared through keys[position]; lookups (a later launch) read the slot alone.
extern "C" __global__ void key_index_insert_int64(const long long* __restrict__ keys,
                                                  const bool* __restrict__ valid, int has_valid,
                                                  long long k, IntSlot* slots, long long mask,
                                                  unsigned long long* slot_counts, int has_counts) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < k; i += stride) {
        if (has_valid && !valid[i]) continue;
        const long long key = keys[i];
        long long slot = raylane_murmur3_int64(key, RAYLANE_TABLE_SEED) & mask;
        while (true) {
            unsigned long long* position = (unsigned long long*)&slots[slot].position;
            const long long owner = (long long)atomicCAS(position, RAYLANE_EMPTY, (unsigned long long)i);
            if (owner == -1) {
                slots[slot].key = key;
                break;
            }
            if (keys[owner] == key) {
                atomicMin((long long*)position, i);
                break;
            }
            slot = (slot + 1) & mask;
        }
        if (has_counts) atomicAdd(slot_counts + slot, 1ull);
    }
}

extern "C" __global__ void key_index_lookup_int64(const IntSlot* __restrict__ slots, long long mask,
                                                  const long long* __restrict__ values, long long n,
                                                  long long* __restrict__ out) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const long long value = values[i];
        long long slot = raylane_murmur3_int64(value, RAYLANE_TABLE_SEED) & mask;
        long long found = -1;
        while (true) {
            const IntSlot entry = slots[slot];
            if (entry.position < 0) break;
            if (entry.key == value) {
                found = entry.position;
                break;
            }
            slot = (slot + 1) & mask;
        }
        out[i] = found;
    }
}

__device__ __forceinline__ bool raylane_bytes_equal(const unsigned char* a, const unsigned char* b,
                                                    long long len) {
    for (long long j = 0; j < len; ++j) {
        if (a[j] != b[j]) return false;
    }
    return true;
}

// Whether string key `position` (key_offsets are int64) equals the `len` bytes at `value`.
__device__ __forceinline__ bool raylane_key_equals(const long long* key_offsets,
                                                   const unsigned char* key_data, long long position,
                                                   const unsigned char* value, long long len) {
    const long long start = key_offsets[position];
    return key_offsets[position + 1] - start == len && raylane_bytes_equal(key_data + start, value, len);
}

extern "C" __global__ void key_index_insert_strings(const long long* __restrict__ key_offsets,
                                                    const unsigned char* __restrict__ key_data,
                                                    const bool* __restrict__ valid, int has_valid,
                                                    long long k, unsigned long long* slots, long long mask,
                                                    unsigned long long* slot_counts, int has_counts) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < k; i += stride) {
        if (has_valid && !valid[i]) continue;
        const unsigned char* key = key_data + key_offsets[i];
        const long long len = key_offsets[i + 1] - key_offsets[i];
        const unsigned int hash = raylane_murmur3_bytes(key, len, RAYLANE_TABLE_SEED);
        const unsigned long long tagged = ((unsigned long long)hash << 32) | (unsigned long long)i;
        long long slot = hash & mask;
        while (true) {
            const unsigned long long owner = atomicCAS(slots + slot, RAYLANE_EMPTY, tagged);
            if (owner == RAYLANE_EMPTY) break;
            if ((unsigned int)(owner >> 32) == hash &&
                raylane_key_equals(key_offsets, key_data, (long long)(owner & 0xffffffffull), key, len)) {
                atomicMin(slots + slot, tagged);  // same hash bits: the smaller position wins
                break;
            }
            slot = (slot + 1) & mask;
        }
        if (has_counts) atomicAdd(slot_counts + slot, 1ull);
    }
}

template <typename Offset>
__device__ __forceinline__ void lookup_string_rows(const long long* __restrict__ key_offsets,
                                                   const unsigned char* __restrict__ key_data,
                                                   const unsigned long long* __restrict__ slots,
                                                   long long mask, const Offset* __restrict__ offsets,
                                                   const unsigned char* __restrict__ data, long long n,
                                                   long long* __restrict__ out) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const unsigned char* value = data + (long long)offsets[i];
        const long long len = (long long)offsets[i + 1] - (long long)offsets[i];
        const unsigned int hash = raylane_murmur3_bytes(value, len, RAYLANE_TABLE_SEED);
        long long slot = hash & mask;
        long long found = -1;
        while (true) {
            const unsigned long long entry = slots[slot];
            if (entry == RAYLANE_EMPTY) break;
            const long long position = (long long)(entry & 0xffffffffull);
            if ((unsigned int)(entry >> 32) == hash &&
                raylane_key_equals(key_offsets, key_data, position, value, len)) {
                found = position;
                break;
            }
            slot = (slot + 1) & mask;
        }
        out[i] = found;
    }
}

extern "C" __global__ void key_index_lookup_strings_i32(
    const long long* __restrict__ key_offsets, const unsigned char* __restrict__ key_data,
    const unsigned long long* __restrict__ slots, long long mask, const int* __restrict__ offsets,
    const unsigned char* __restrict__ data, long long n, long long* __restrict__ out) {
    lookup_string_rows(key_offsets, key_data, slots, mask, offsets, data, n, out);
}

extern "C" __global__ void key_index_lookup_strings_i64(
    const long long* __restrict__ key_offsets, const unsigned char* __restrict__ key_data,
    const unsigned long long* __restrict__ slots, long long mask, const long long* __restrict__ offsets,
    const unsigned char* __restrict__ data, long long n, long long* __restrict__ out) {
    lookup_string_rows(key_offsets, key_data, slots, mask, offsets, data, n, out);
}
