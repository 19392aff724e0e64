package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Cache-blocked strided gather into a contiguous destination (a permute), after the scheme of HPTT (Springer,
 * Su, Bientinesi, "HPTT: A High-Performance Tensor Transposition C++ Library", ARRAY 2017): the axes are already
 * fused where contiguous; the copy is split into tiles made of a group of the destination's innermost axes (about
 * {@link #DST_BLOCK} elements, written as one contiguous run) times a group of the source's axes with the smallest
 * strides (about {@link #SRC_BLOCK} elements), so that every cache line read from the source is used up while the
 * tile is in L1. The outermost axis of each group may be cut into blocks (remainders at the end); the other axes
 * run as an odometer over tiles. Two refinements for the short axes of einsum permutes (extents 3 to 9 over 6 to 15
 * axes): the source group first takes, whole, every axis that continues one contiguous source range together with
 * the destination group's axes (so that every cache line a tile reads is used up in that tile, not read again by the
 * next one), up to {@code DST_BLOCK * MAX_TILE_FACTOR} elements a tile; and when the destination group's blocked axis
 * is the source's contiguous one, its block is at least {@code DST_BLOCK} long. On the largest permute of
 * {@code gm_queen5_5_3} (1 GB, 11 axes) this took 566 ms to 385-397 ms, against 111-122 ms for a plain copy of the
 * same bytes ({@code PermuteTiming}, docs/benchmarks.md, issue 14, round 5). Within a tile, precomputed offset
 * tables drive a scalar copy of 2-, 4- or 8-byte elements.
 *
 * <p>Axes are given innermost first in the destination's order (the destination is dense, row-major). Callers check
 * the ranges. Stateless, thread-safe.
 */
final class BlockedPermute {
    /** Elements of the destination-contiguous group of a tile. */
    static final int DST_BLOCK = 64;
    /** Elements of the source-contiguous group of a tile. */
    static final int SRC_BLOCK = 32;
    /** A tile's whole source axes hold at most this many times {@link #DST_BLOCK} elements over the tile's rows. */
    static final int MAX_TILE_FACTOR = 256;

    private BlockedPermute() {
    }

    /**
     * Copies {@code prod(dims)} elements of {@code es} bytes: destination element at multi-index {@code i} (axis 0
     * fastest, dense) from source element {@code sum i[a] * strides[a]}.
     *
     * @param ps    source address of multi-index 0
     * @param pd    destination address
     * @param dims  sizes, innermost (destination-fastest) first; all {@code > 1}
     * @param strides source strides in elements, same order
     * @param rank  number of valid entries in {@code dims}/{@code strides}
     * @param es    element size in bytes: 2, 4 or 8
     */
    static void copy(long ps, long pd, long[] dims, long[] strides, int rank, int es) {
        long[] dstStrides = new long[rank];
        long p = 1;
        for (int a = 0; a < rank; a++) {
            dstStrides[a] = p;
            p *= dims[a];
        }
        // Destination group: axes 0..dLast, axis dLast cut into blocks of dBlock.
        int dLast = 0;
        long dInner = 1; // product of the full axes 0..dLast-1
        while (dLast < rank - 1 && dInner * dims[dLast] < DST_BLOCK) {
            dInner *= dims[dLast];
            dLast++;
        }
        long dBlock = Math.min(dims[dLast], ceilDiv(DST_BLOCK, dInner));
        if (strides[dLast] == 1) {
            // the blocked axis is the source's contiguous one: read runs of at least DST_BLOCK elements
            dBlock = Math.min(dims[dLast], Math.max(dBlock, DST_BLOCK));
        }
        // Source group: the remaining axes by increasing |stride|, the last one cut into blocks of sBlock.
        Integer[] rest = new Integer[rank - dLast - 1];
        for (int a = dLast + 1; a < rank; a++) {
            rest[a - dLast - 1] = a;
        }
        Arrays.sort(rest, (x, y) -> Long.compare(Math.abs(strides[x]), Math.abs(strides[y])));
        int sCount = 0; // axes of the source group: rest[0..sCount-1], rest[sCount-1] blocked
        long sInner = 1;
        long sBlock = 1;
        if (rest.length > 0) {
            // Whole axes that, with the destination group's full axes, tile one contiguous source range (every
            // cache line read is used up in the tile; HPTT's reason for blocking), up to MAX_TILE elements.
            int whole = contiguousSourceAxes(dims, strides, rank, dLast, rest, (long) DST_BLOCK * MAX_TILE_FACTOR
                    / (dInner * dBlock));
            for (int i = 0; i < whole; i++) {
                sInner *= dims[rest[i]];
            }
            sCount = whole;
            if (whole > 0 && (whole == rest.length || sInner >= SRC_BLOCK)) {
                // the last whole axis is the group's "blocked" one, in one block
                sInner /= dims[rest[whole - 1]];
                sBlock = dims[rest[whole - 1]];
            } else {
                while (sCount < rest.length - 1 && sInner * dims[rest[sCount]] < SRC_BLOCK) {
                    sInner *= dims[rest[sCount]];
                    sCount++;
                }
                sBlock = Math.min(dims[rest[sCount]], ceilDiv(SRC_BLOCK, sInner));
                sCount++;
            }
        }
        int sLast = sCount > 0 ? rest[sCount - 1] : -1;
        if (sCount > 0) {
            sInner = 1;
            for (int i = 0; i < sCount - 1; i++) {
                sInner *= dims[rest[i]];
            }
        }
        // Offset tables of a full tile: destination group (source offsets; destination offsets are 0..n-1) and
        // source group (source and destination offsets), each enumerated with its blocked axis outermost, so a
        // remainder block is a prefix of the table.
        int nd = (int) (dInner * dBlock);
        long[] dSrc = new long[nd];
        enumerate(dims, strides, 0, dLast, dBlock, null, dSrc, null, null);
        int ns = (int) (sInner * sBlock);
        long[] sSrc = new long[ns];
        long[] sDst = new long[ns];
        int[] sAxes = new int[sCount];
        for (int i = 0; i < sCount; i++) {
            sAxes[i] = rest[i];
        }
        if (sCount == 0) {
            sSrc[0] = 0;
            sDst[0] = 0;
        } else {
            enumerate(dims, strides, -1, -1, sBlock, sAxes, sSrc, dstStrides, sDst);
        }
        // Outer odometer: every axis not in a group steps by 1; the two blocked axes step by their block sizes.
        int[] outer = new int[rank];
        long[] step = new long[rank];
        int no = 0;
        boolean[] inGroup = new boolean[rank];
        for (int a = 0; a < dLast; a++) {
            inGroup[a] = true;
        }
        for (int i = 0; i < sCount - 1; i++) {
            inGroup[sAxes[i]] = true;
        }
        for (int a = 0; a < rank; a++) {
            if (!inGroup[a]) {
                outer[no] = a;
                step[no] = a == dLast ? dBlock : a == sLast ? sBlock : 1;
                no++;
            }
        }
        long[] idx = new long[no];
        long srcBase = 0;
        long dstBase = 0;
        while (true) {
            long dExt = Math.min(dBlock, dims[dLast] - idxOf(idx, outer, no, dLast));
            long sExt = sCount == 0 ? 1 : Math.min(sBlock, dims[sLast] - idxOf(idx, outer, no, sLast));
            tile(ps + srcBase * es, pd + dstBase * es, dSrc, (int) (dInner * dExt), sSrc, sDst,
                    (int) (sInner * sExt), es);
            int k = 0;
            for (; k < no; k++) {
                int a = outer[k];
                idx[k] += step[k];
                srcBase += step[k] * strides[a];
                dstBase += step[k] * dstStrides[a];
                if (idx[k] < dims[a]) {
                    break;
                }
                srcBase -= idx[k] * strides[a];
                dstBase -= idx[k] * dstStrides[a];
                idx[k] = 0;
            }
            if (k == no) {
                return;
            }
        }
    }

    /**
     * How many of {@code rest} (source-group candidates by increasing |stride|) to take whole: walking all axes by
     * increasing |stride| from 1, as long as each axis starts where the ones before it end (a contiguous source
     * range), the candidates met before the destination group's blocked axis {@code dLast} or the first gap, while
     * their product stays within {@code maxElements}.
     */
    private static int contiguousSourceAxes(long[] dims, long[] strides, int rank, int dLast, Integer[] rest,
                                            long maxElements) {
        long covered = 1;
        long product = 1;
        int taken = 0;
        boolean[] used = new boolean[rank];
        while (true) {
            int next = -1;
            for (int a = 0; a < rank; a++) {
                if (!used[a] && dims[a] > 1 && strides[a] == covered) {
                    next = a;
                    break;
                }
            }
            if (next < 0 || next == dLast) {
                return taken;
            }
            used[next] = true;
            covered *= dims[next];
            if (next > dLast) { // a source-group candidate
                if (taken >= rest.length || rest[taken] != next || product * dims[next] > maxElements) {
                    return taken;
                }
                product *= dims[next];
                taken++;
            }
        }
    }

    private static long idxOf(long[] idx, int[] outer, int no, int axis) {
        for (int k = 0; k < no; k++) {
            if (outer[k] == axis) {
                return idx[k];
            }
        }
        return 0;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /**
     * Fills offset tables for the axes {@code axes} (or {@code from..last} when {@code axes} is null), first axis
     * fastest, the last one limited to {@code lastExtent}.
     */
    private static void enumerate(long[] dims, long[] strides, int from, int last, long lastExtent, int[] axes,
                                  long[] srcOut, long[] dstStrides, long[] dstOut) {
        int[] ax = axes;
        if (ax == null) {
            ax = new int[last - from + 1];
            for (int i = 0; i < ax.length; i++) {
                ax[i] = from + i;
            }
        }
        int n = ax.length;
        long[] idx = new long[n];
        long src = 0;
        long dst = 0;
        for (int e = 0; e < srcOut.length; e++) {
            srcOut[e] = src;
            if (dstOut != null) {
                dstOut[e] = dst;
            }
            for (int i = 0; i < n; i++) {
                int a = ax[i];
                long lim = i == n - 1 ? lastExtent : dims[a];
                idx[i]++;
                src += strides[a];
                if (dstStrides != null) {
                    dst += dstStrides[a];
                }
                if (idx[i] < lim) {
                    break;
                }
                src -= idx[i] * strides[a];
                if (dstStrides != null) {
                    dst -= idx[i] * dstStrides[a];
                }
                idx[i] = 0;
            }
        }
    }

    /** One tile: for each source-group element k, a contiguous run of {@code nd} destination elements. */
    private static void tile(long s, long d, long[] dSrc, int nd, long[] sSrc, long[] sDst, int ns, int es) {
        switch (es) {
            case 4 -> {
                for (int k = 0; k < ns; k++) {
                    long sk = s + sSrc[k] * 4;
                    long dk = d + sDst[k] * 4;
                    for (int j = 0; j < nd; j++) {
                        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, dk + j * 4L,
                                ALL.get(ValueLayout.JAVA_INT_UNALIGNED, sk + dSrc[j] * 4));
                    }
                }
            }
            case 8 -> {
                for (int k = 0; k < ns; k++) {
                    long sk = s + sSrc[k] * 8;
                    long dk = d + sDst[k] * 8;
                    for (int j = 0; j < nd; j++) {
                        ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, dk + j * 8L,
                                ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, sk + dSrc[j] * 8));
                    }
                }
            }
            case 2 -> {
                for (int k = 0; k < ns; k++) {
                    long sk = s + sSrc[k] * 2;
                    long dk = d + sDst[k] * 2;
                    for (int j = 0; j < nd; j++) {
                        ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, dk + j * 2L,
                                ALL.get(ValueLayout.JAVA_SHORT_UNALIGNED, sk + dSrc[j] * 2));
                    }
                }
            }
            default -> {
                for (int k = 0; k < ns; k++) {
                    for (int j = 0; j < nd; j++) {
                        ALL.set(ValueLayout.JAVA_BYTE, d + (sDst[k] + j) * es,
                                ALL.get(ValueLayout.JAVA_BYTE, s + (sSrc[k] + dSrc[j]) * es));
                    }
                }
            }
        }
    }
}
