package org.tensorbuffer.memory;

/**
 * Size classes of the {@link BufferPool}: how a requested byte count is rounded up to a cached block size.
 *
 * <p>The rule is jemalloc's, as Netty's {@code SizeClasses} uses it ({@code LOG2_SIZE_CLASS_GROUP = 2}): four classes
 * per power-of-two group, so a request is rounded up by at most 25%, and the index is O(1) bit arithmetic. The
 * quantum is 64 bytes (one cache line, the CPU device's alignment), so
 * <ul>
 *   <li>up to 512 B: multiples of 64 (64, 128, ..., 512), indices 0-7;</li>
 *   <li>above: for each group {@code (2^p, 2^(p+1)]}, {@code p >= 9}, the classes
 *       {@code 2^p + m * 2^(p-2)} for {@code m = 1..4} (640, 768, 896, 1024, 1280, ...).</li>
 * </ul>
 * PyTorch's CUDA caching allocator rounds small requests to 512 B and carves blocks from 2 MiB segments instead;
 * here every class is its own allocation, which keeps blocks independent (no splitting, no fragmentation inside a
 * segment) at the cost of at most 25% internal fragmentation. All methods are pure and thread-safe.
 */
final class SizeClasses {
    /** Smallest class and spacing up to {@link #SMALL_MAX}, in bytes. */
    public static final long QUANTUM = 64;
    /** Largest of the evenly spaced small classes, in bytes. */
    public static final long SMALL_MAX = 512;
    private static final int SMALL_COUNT = 8;
    /**
     * Number of classes: every size up to {@code 2^62} has one. The groups {@code (2^p, 2^(p+1)]} for
     * {@code p = 9..61} have four classes each, so the last class, index {@code COUNT - 1 = 219}, is exactly
     * {@code 2^62} ({@code index(2^62) == 219}).
     */
    public static final int COUNT = SMALL_COUNT + (62 - 9) * 4;

    private SizeClasses() {
    }

    /**
     * The class index of a request of {@code bytes} bytes (0 for a zero-byte request).
     *
     * @throws IllegalArgumentException if {@code bytes} is negative or above {@code 2^62}
     */
    public static int index(long bytes) {
        if (bytes <= SMALL_MAX) {
            if (bytes < 0) {
                throw new IllegalArgumentException("negative size " + bytes);
            }
            return bytes == 0 ? 0 : (int) ((bytes - 1) >>> 6);
        }
        if (bytes > (1L << 62)) {
            throw new IllegalArgumentException("size " + bytes + " exceeds the largest size class (2^62 bytes)");
        }
        int p = 63 - Long.numberOfLeadingZeros(bytes - 1); // 2^p < bytes <= 2^(p+1)
        long spacing = 1L << (p - 2);
        int m = (int) ((bytes - (1L << p) + spacing - 1) >>> (p - 2)); // 1..4
        return SMALL_COUNT + (p - 9) * 4 + (m - 1);
    }

    /**
     * The block size in bytes of class {@code index}.
     *
     * @throws IllegalArgumentException if {@code index} is not in {@code [0, COUNT)}
     */
    public static long size(int index) {
        if (index < 0 || index >= COUNT) {
            throw new IllegalArgumentException("size class " + index + " is not in [0, " + COUNT + ")");
        }
        if (index < SMALL_COUNT) {
            return (index + 1) * QUANTUM;
        }
        int g = (index - SMALL_COUNT) >>> 2;
        int m = ((index - SMALL_COUNT) & 3) + 1;
        int p = 9 + g;
        return (1L << p) + ((long) m << (p - 2));
    }

    /** {@code size(index(bytes))}: the rounded size of a request. */
    public static long roundUp(long bytes) {
        return size(index(bytes));
    }
}
