// MurmurHash3 x86_32 (Austin Appleby, public domain), as device functions.
// Shared by hashing.cu and key_index.cu; bit-identical to
// sklearn.utils.murmurhash3_32(bytes, seed, positive=True).
#pragma once

__device__ __forceinline__ unsigned int raylane_rotl32(unsigned int x, int r) {
    return (x << r) | (x >> (32 - r));
}

__device__ __forceinline__ unsigned int raylane_fmix32(unsigned int h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

__device__ __forceinline__ unsigned int raylane_mix_block(unsigned int h, unsigned int k) {
    k *= 0xcc9e2d51u;
    k = raylane_rotl32(k, 15);
    k *= 0x1b873593u;
    h ^= k;
    h = raylane_rotl32(h, 13);
    return h * 5u + 0xe6546b64u;
}

// Hash of the 8 little-endian bytes of a two's-complement int64: two full blocks, no tail.
__device__ __forceinline__ unsigned int raylane_murmur3_int64(long long value, unsigned int seed) {
    const unsigned long long bits = (unsigned long long)value;
    unsigned int h = raylane_mix_block(seed, (unsigned int)(bits & 0xffffffffull));
    h = raylane_mix_block(h, (unsigned int)(bits >> 32));
    return raylane_fmix32(h ^ 8u);
}

// Hash of `len` bytes at an arbitrary (unaligned) address: Arrow string data is not
// 4-byte aligned per row, so blocks are assembled byte by byte (little-endian).
__device__ __forceinline__ unsigned int raylane_murmur3_bytes(const unsigned char* bytes,
                                                              long long len, unsigned int seed) {
    unsigned int h = seed;
    const long long nblocks = len >> 2;
    for (long long b = 0; b < nblocks; ++b) {
        const unsigned char* p = bytes + 4 * b;
        const unsigned int k = (unsigned int)p[0] | ((unsigned int)p[1] << 8) |
                               ((unsigned int)p[2] << 16) | ((unsigned int)p[3] << 24);
        h = raylane_mix_block(h, k);
    }
    const unsigned char* tail = bytes + 4 * nblocks;
    unsigned int k1 = 0;
    switch (len & 3) {
        case 3: k1 ^= (unsigned int)tail[2] << 16;
            [[fallthrough]];
        case 2: k1 ^= (unsigned int)tail[1] << 8;
            [[fallthrough]];
        case 1:
            k1 ^= (unsigned int)tail[0];
            k1 *= 0xcc9e2d51u;
            k1 = raylane_rotl32(k1, 15);
            k1 *= 0x1b873593u;
            h ^= k1;
    }
    return raylane_fmix32(h ^ (unsigned int)len);
}
