package org.tensorbuffer.plan;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The allocations of one recorded run, in allocation order, with their lifetimes (see {@link AllocationRecord} for the
 * logical clock). Recorded by a {@link PlannedAllocator} run, built from a schedule with a {@link Builder} or from
 * lifetimes with {@link #ofLifetimes}; input to {@link PlanningAlgorithm#plan(AllocationTrace)}.
 *
 * <p>Immutable and thread-safe.
 */
public final class AllocationTrace {
    private final List<AllocationRecord> records;
    private final long endTime;
    private final long lowerBound;
    private final long peakLiveBytes;

    /**
     * @param records the allocations; record {@code i} must have index {@code i}, and first uses must increase
     * @param endTime the time the run ended, greater than every first and last use of a tensor that did not escape
     * @throws IllegalArgumentException if the records are out of order or a lifetime reaches past {@code endTime}
     */
    public AllocationTrace(List<AllocationRecord> records, long endTime) {
        this.records = List.copyOf(records);
        this.endTime = endTime;
        long prevFirst = Long.MIN_VALUE;
        for (int i = 0; i < this.records.size(); i++) {
            AllocationRecord r = this.records.get(i);
            if (r.index() != i) {
                throw new IllegalArgumentException("record " + i + " has index " + r.index());
            }
            if (r.firstUse() <= prevFirst) {
                throw new IllegalArgumentException("record " + i + " is allocated at " + r.firstUse()
                        + ", not after record " + (i - 1) + " (" + prevFirst + ")");
            }
            if (r.lastUse() > endTime) {
                throw new IllegalArgumentException("record " + i + " is used at " + r.lastUse() + ", after the end "
                        + endTime);
            }
            prevFirst = r.firstUse();
        }
        this.lowerBound = peak(true);
        this.peakLiveBytes = peak(false);
    }

    /**
     * A synthetic trace from lifetimes given as {@code [first, last]} pairs in any time unit (ties allowed); the
     * records are sorted by first use and re-indexed. Useful for tests and for workloads described by a schedule
     * rather than recorded.
     *
     * @param bytes     size of each tensor in bytes
     * @param first     first use of each tensor
     * @param last      last use of each tensor ({@code >= first}); {@code Long.MAX_VALUE} marks an escaped tensor
     * @param alignment alignment of every tensor
     */
    public static AllocationTrace ofLifetimes(long[] bytes, long[] first, long[] last, long alignment) {
        int n = bytes.length;
        if (first.length != n || last.length != n) {
            throw new IllegalArgumentException("bytes, first and last must have the same length");
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> first[a] != first[b] ? Long.compare(first[a], first[b])
                : Integer.compare(a, b));
        // Map times to the event clock: at equal times releases come after allocations (both live at that time).
        long maxTime = 0;
        for (int i = 0; i < n; i++) {
            maxTime = Math.max(maxTime, Math.max(first[i], last[i] == Long.MAX_VALUE ? first[i] : last[i]));
        }
        List<AllocationRecord> out = new ArrayList<>(n);
        long end = 2 * (maxTime + 1) * (long) (n + 1) + 1;
        for (int k = 0; k < n; k++) {
            int i = order[k];
            boolean escaped = last[i] == Long.MAX_VALUE;
            long f = 2 * first[i] * (n + 1) + k;                       // allocations in order within a time
            long l = escaped ? end : (2 * last[i] + 1) * (n + 1) + k;  // releases after every allocation of that time
            out.add(new AllocationRecord(k, bytes[i], alignment, null, null, f, l, escaped));
        }
        return new AllocationTrace(out, end);
    }

    private long peak(boolean padded) {
        int n = records.size();
        long[] times = new long[2 * n];
        long[] deltas = new long[2 * n];
        Integer[] order = new Integer[2 * n];
        for (int i = 0; i < n; i++) {
            AllocationRecord r = records.get(i);
            long b = padded ? r.paddedBytes() : r.bytes();
            times[2 * i] = r.firstUse();
            deltas[2 * i] = b;
            // released after its last use: live at lastUse itself
            times[2 * i + 1] = r.lastUse();
            deltas[2 * i + 1] = -b;
            order[2 * i] = 2 * i;
            order[2 * i + 1] = 2 * i + 1;
        }
        // at equal times, allocations before releases (a tensor is live at both ends of its interval)
        java.util.Arrays.sort(order, (a, b) -> times[a] != times[b] ? Long.compare(times[a], times[b])
                : Long.compare(deltas[b], deltas[a]));
        long live = 0;
        long peak = 0;
        for (Integer e : order) {
            live += deltas[e];
            peak = Math.max(peak, live);
        }
        return peak;
    }

    /** The allocations, in allocation order. */
    public List<AllocationRecord> records() {
        return records;
    }

    /** Number of allocations. */
    public int size() {
        return records.size();
    }

    /** Record {@code i}. */
    public AllocationRecord get(int i) {
        return records.get(i);
    }

    /** The logical time the run ended (escaped tensors are live until then). */
    public long endTime() {
        return endTime;
    }

    /**
     * The lower bound on any arena for this trace: the maximum over time of the sum of the padded sizes
     * ({@link AllocationRecord#paddedBytes()}) of the tensors live at that time. No placement can use less.
     */
    public long lowerBound() {
        return lowerBound;
    }

    /** The same maximum over the requested (unpadded) sizes: the high-water mark of live bytes. */
    public long peakLiveBytes() {
        return peakLiveBytes;
    }

    /** Sum of all padded sizes: the arena without any sharing. */
    public long totalBytes() {
        long t = 0;
        for (AllocationRecord r : records) {
            t += r.paddedBytes();
        }
        return t;
    }

    /** Number of tensors that outlived the run. */
    public int escapedCount() {
        int c = 0;
        for (AllocationRecord r : records) {
            if (r.escaped()) {
                c++;
            }
        }
        return c;
    }

    /**
     * The reservations a {@link org.tensorbuffer.memory.TensorBuffer} needs so that a run like this one makes no
     * miss: per (shape, dtype), the largest number of its tensors live at the same time (escaped tensors live to the
     * end). Records without a shape or dtype (synthetic traces) are left out.
     */
    public ReservationPlan reservationPlan() {
        record Key(Shape shape, DType dtype) {
        }
        int n = records.size();
        long[] times = new long[2 * n];
        int[] who = new int[2 * n];
        Integer[] order = new Integer[2 * n];
        for (int i = 0; i < n; i++) {
            AllocationRecord r = records.get(i);
            times[2 * i] = r.firstUse();
            times[2 * i + 1] = r.lastUse();
            who[2 * i] = i;
            who[2 * i + 1] = i;
            order[2 * i] = 2 * i;
            order[2 * i + 1] = 2 * i + 1;
        }
        // at equal times, allocations before releases (a tensor is live at both ends of its interval)
        java.util.Arrays.sort(order, (a, b) -> times[a] != times[b] ? Long.compare(times[a], times[b])
                : Integer.compare(a & 1, b & 1));
        Map<Key, int[]> live = new LinkedHashMap<>(); // {live, peak}
        for (Integer e : order) {
            AllocationRecord r = records.get(who[e]);
            if (r.shape() == null || r.dtype() == null) {
                continue;
            }
            int[] c = live.computeIfAbsent(new Key(r.shape(), r.dtype()), k -> new int[2]);
            if ((e & 1) == 0) {
                c[0]++;
                c[1] = Math.max(c[1], c[0]);
            } else {
                c[0]--;
            }
        }
        List<ReservationPlan.Entry> out = new ArrayList<>();
        live.forEach((k, c) -> out.add(new ReservationPlan.Entry(k.shape(), k.dtype(), c[1])));
        return new ReservationPlan(out);
    }

    @Override
    public String toString() {
        return "AllocationTrace[" + size() + " allocations, lower bound " + lowerBound + " B, total " + totalBytes()
                + " B]";
    }

    /**
     * Builds a trace from allocation and release events in the order they happen (each call is one tick of the
     * logical clock): what a recorded run logs, for schedules and external planners. Thread-safe (one lock); the
     * trace's order is the order in which the calls reached the lock.
     */
    public static final class Builder {
        private final List<long[]> events = new ArrayList<>(); // per allocation: {bytes, alignment, first, last}
        private final List<Shape> shapes = new ArrayList<>();
        private final List<DType> dtypes = new ArrayList<>();
        private long clock;
        private AllocationTrace trace;

        /** An empty log. */
        public Builder() {
        }

        /**
         * Logs an allocation and returns its id (its index in allocation order).
         *
         * @throws IllegalStateException    after {@link #build()}
         * @throws IllegalArgumentException if bytes is negative or alignment not a power of two
         */
        public synchronized int allocated(long bytes, long alignment, Shape shape, DType dtype) {
            if (trace != null) {
                throw new IllegalStateException("trace already built");
            }
            if (bytes < 0 || alignment <= 0 || Long.bitCount(alignment) != 1) {
                throw new IllegalArgumentException("bad allocation: " + bytes + " B aligned to " + alignment);
            }
            events.add(new long[] {bytes, alignment, clock++, -1});
            shapes.add(shape);
            dtypes.add(dtype);
            return events.size() - 1;
        }

        /**
         * Logs the release of allocation {@code id}. Ignored after {@link #build()} (the tensor escaped).
         *
         * @throws IllegalArgumentException if {@code id} is unknown or already released
         */
        public synchronized void released(int id) {
            if (trace != null) {
                return;
            }
            if (id < 0 || id >= events.size()) {
                throw new IllegalArgumentException("unknown allocation id " + id);
            }
            long[] e = events.get(id);
            if (e[3] >= 0) {
                throw new IllegalArgumentException("allocation " + id + " released twice");
            }
            e[3] = clock++;
        }

        /** Allocations logged so far. */
        public synchronized int allocationCount() {
            return events.size();
        }

        /**
         * Ends the log: allocations not yet released are marked escaped and live to the end.
         *
         * @return the trace (the same one on a second call)
         */
        public synchronized AllocationTrace build() {
            if (trace == null) {
                long end = clock++;
                List<AllocationRecord> records = new ArrayList<>(events.size());
                for (int i = 0; i < events.size(); i++) {
                    long[] e = events.get(i);
                    boolean escaped = e[3] < 0;
                    records.add(new AllocationRecord(i, e[0], e[1], shapes.get(i), dtypes.get(i), e[2],
                            escaped ? end : e[3], escaped));
                }
                trace = new AllocationTrace(records, end);
            }
            return trace;
        }
    }
}
