package org.tensorbuffer.llama;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorbuffer.types.Shape;

/**
 * Counts live buffers per shape and keeps the high-water mark of each: the number of buffers of a shape that one
 * decode step needs at the same time, which is what a TensorBuffer reservation must hold. Not thread-safe.
 */
final class LiveShapes {
    private final Map<Shape, int[]> counts = new LinkedHashMap<>(); // {live, peak}
    private long liveBytes;
    private long peakBytes;

    void alloc(Shape s) {
        int[] c = counts.computeIfAbsent(s, k -> new int[2]);
        c[0]++;
        c[1] = Math.max(c[1], c[0]);
        liveBytes += s.elementCount() * 4L;
        peakBytes = Math.max(peakBytes, liveBytes);
    }

    void free(Shape s) {
        int[] c = counts.get(s);
        if (c == null || c[0] == 0) {
            throw new IllegalStateException("free of " + s + " with none live");
        }
        c[0]--;
        liveBytes -= s.elementCount() * 4L;
    }

    /** Shape to peak count, in first-allocation order. */
    Map<Shape, Integer> peaks() {
        Map<Shape, Integer> m = new LinkedHashMap<>();
        counts.forEach((s, c) -> m.put(s, c[1]));
        return m;
    }

    /** The high-water mark of bytes live at the same time (F32 elements, 4 bytes each). */
    long peakBytes() {
        return peakBytes;
    }

    /** Buffers live now (all shapes). */
    int live() {
        int n = 0;
        for (int[] c : counts.values()) {
            n += c[0];
        }
        return n;
    }
}
