package org.tensorbuffer.memory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * Counts, per (shape, dtype), how many buffers handed out by a {@link TensorBuffer} are live at once: during
 * {@link TensorBuffer#record(Runnable) a recording} every take, for the {@link TensorBuffer#enableLearning(int)
 * learning policy} the misses only. A tracked take hands out a wrapper block over the same memory whose last release
 * updates the count and then releases the real block. Tracking is off the hit path once it ends. Thread-safe (one
 * lock).
 */
final class TensorBufferTracker {
    /** Whether every take is tracked (recording) or the misses only (learning). */
    final boolean all;
    /** Steps after which learning reserves (learning only). */
    final int steps;
    /** The keying of the TensorBuffer when the tracker started (the keys it counts are of that keying). */
    final ReservationKeying keying;
    private final Map<Key, Entry> entries = new LinkedHashMap<>();
    private int stepsSeen;

    record Key(Shape shape, DType dtype) {
    }

    /** Live and peak counts of one key. Guarded by the tracker. */
    static final class Entry {
        final Key key;
        int live;
        int peak;
        int stepPeak;

        Entry(Key key) {
            this.key = key;
        }
    }

    /** The wrapper's owner data: the entry it counts in and the block it stands for. */
    record Tracked(TensorBufferTracker tracker, Entry entry, Block inner) {
    }

    TensorBufferTracker(boolean all, int steps, ReservationKeying keying) {
        this.all = all;
        this.steps = steps;
        this.keying = keying;
    }

    /** Counts a take of {@code inner} (one reference, handed over) and returns the wrapper to hand out instead. */
    Block wrap(TensorBuffer owner, Block inner, Shape shape, DType dtype) {
        Entry e;
        synchronized (this) {
            e = entries.computeIfAbsent(new Key(shape, dtype), Entry::new);
            e.live++;
            e.peak = Math.max(e.peak, e.live);
            e.stepPeak = Math.max(e.stepPeak, e.live);
        }
        Block w = new Block(inner.buffer(), inner.capacity(), -1, owner);
        w.ownerData = new Tracked(this, e, inner);
        w.acquire();
        return w;
    }

    /** The wrapper's last reference went: count it and release the real block. */
    static void released(Tracked t) {
        synchronized (t.tracker) {
            t.entry.live--;
        }
        t.inner.release();
    }

    /** The recorded plan: each key's peak of live buffers. */
    synchronized ReservationPlan plan() {
        List<ReservationPlan.Entry> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.peak > 0) {
                out.add(new ReservationPlan.Entry(e.key.shape(), e.key.dtype(), e.peak));
            }
        }
        return new ReservationPlan(out, keying);
    }

    /**
     * Marks a step boundary (learning). Returns the plan to reserve when {@link #steps} steps have been seen (each
     * key's largest per-step peak of concurrent misses) and starts a new window; {@code null} before that.
     */
    synchronized ReservationPlan endStep() {
        stepsSeen++;
        if (stepsSeen < steps) {
            for (Entry e : entries.values()) {
                e.stepPeak = e.live;
            }
            return null;
        }
        List<ReservationPlan.Entry> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.peak > 0) {
                out.add(new ReservationPlan.Entry(e.key.shape(), e.key.dtype(), e.peak));
            }
        }
        // Wrappers still out keep their old entry: their releases no longer count in the new window.
        entries.clear();
        stepsSeen = 0;
        return new ReservationPlan(out, keying);
    }

    /** Steps seen in the current learning window. */
    synchronized int stepsSeen() {
        return stepsSeen;
    }
}
