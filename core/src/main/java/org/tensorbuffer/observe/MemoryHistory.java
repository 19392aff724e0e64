package org.tensorbuffer.observe;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.memory.ReservationListener;

/**
 * A recorder of a context's allocation events (tensor allocations and frees, device reservations and releases) in a
 * bounded ring buffer, as PyTorch's {@code torch.cuda.memory._record_memory_history}; {@link #writeHtml(Path)} turns it
 * into a self-contained page with a timeline of live and reserved bytes and the largest allocations
 * ({@link MemoryTimelineHtml}), like PyTorch's {@code memory_viz}.
 *
 * <pre>{@code
 * MemoryHistory history = MemoryHistory.record(ctx);   // start recording
 * ... workload ...
 * history.stop();
 * history.writeHtml(Path.of("timeline.html"));
 * }</pre>
 *
 * <p>Every event carries the live and reserved bytes after it, so the timeline stays right when the ring buffer drops
 * old events. Live bytes are tensor block bytes allocated through {@link TensorContext#empty} (and the factories and
 * ops built on it) while recording; reserved bytes start from the allocators' figures at {@link #record} and follow
 * their device allocations and frees.
 *
 * <p>Thread-safe (the recording methods are synchronized; this is a debugging tool, not a hot-path one).
 */
public final class MemoryHistory implements AutoCloseable {
    /** Default ring-buffer capacity in events. */
    public static final int DEFAULT_CAPACITY = 100_000;

    private final TensorContext ctx;
    private final MemoryEvent[] ring;
    private final boolean stacks;
    private final long start = System.nanoTime();
    private final Map<Key, MemoryEvent> liveAllocs = new HashMap<>();
    private final ReservationListener listener = this::reservationChanged;
    private long seq;
    private long live;
    private long reserved;
    private long peakLive;
    private long peakReserved;
    private boolean stopped;

    /** A block in one lease: blocks are recycled, the generation tells leases apart. Block equality is identity. */
    private record Key(Block block, int generation) {
    }

    private MemoryHistory(TensorContext ctx, int capacity, boolean stacks) {
        if (capacity < 1) {
            throw new IllegalArgumentException("history capacity " + capacity + " must be at least 1");
        }
        this.ctx = ctx;
        this.ring = new MemoryEvent[capacity];
        this.stacks = stacks;
        this.reserved = ctx.pool().stats().reservedBytes() + ctx.tensorBuffer().stats().reservedBytes()
                + ctx.raw().liveBytes();
        this.peakReserved = reserved;
    }

    /** Starts recording {@code ctx} with {@link #DEFAULT_CAPACITY} events and no stacks. */
    public static MemoryHistory record(TensorContext ctx) {
        return record(ctx, DEFAULT_CAPACITY, false);
    }

    /**
     * Starts recording {@code ctx}, replacing any recorder it had.
     *
     * @param capacity events kept (older ones are dropped)
     * @param stacks   whether to keep each allocation's stack (costs a stack walk per allocation)
     * @throws IllegalArgumentException if {@code capacity < 1}
     */
    public static MemoryHistory record(TensorContext ctx, int capacity, boolean stacks) {
        MemoryHistory h = new MemoryHistory(ctx, capacity, stacks);
        ctx.pool().reservationListener(h.listener);
        ctx.tensorBuffer().reservationListener(h.listener);
        ctx.raw().reservationListener(h.listener);
        ctx.memoryHistory(h);
        return h;
    }

    /** Stops recording (uninstalls the hooks); the events stay. Idempotent. */
    public synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        if (ctx.memoryHistory() == this) {
            ctx.memoryHistory(null);
            ctx.pool().reservationListener(null);
            ctx.tensorBuffer().reservationListener(null);
            ctx.raw().reservationListener(null);
        }
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    /** Called by {@link TensorContext#empty} for a tensor over a newly taken block. */
    public synchronized void recordAlloc(Tensor t) {
        if (stopped) {
            return;
        }
        Block b = t.block();
        live += b.capacity();
        peakLive = Math.max(peakLive, live);
        long id = seq;
        MemoryEvent e = add(MemoryEvent.Kind.ALLOC, b.capacity(), b.owner().describe(), t.shape().toString(),
                t.dtype().name(), ctx.strategy().name(), id, stacks ? stack() : null);
        liveAllocs.put(new Key(b, b.generation()), e);
    }

    /** Called by {@link Tensor} when the last reference to a block of lease {@code generation} is released. */
    public synchronized void recordFree(Block block, int generation) {
        if (stopped) {
            return;
        }
        MemoryEvent a = liveAllocs.remove(new Key(block, generation));
        if (a == null) {
            return; // allocated before recording started (or by wrap)
        }
        live -= a.bytes();
        add(MemoryEvent.Kind.FREE, a.bytes(), a.pool(), a.shape(), a.dtype(), a.strategy(), a.allocId(), a.stack());
    }

    private synchronized void reservationChanged(BlockOwner owner, long delta) {
        if (stopped) {
            return;
        }
        reserved += delta;
        peakReserved = Math.max(peakReserved, reserved);
        add(delta >= 0 ? MemoryEvent.Kind.RESERVE : MemoryEvent.Kind.UNRESERVE, Math.abs(delta), owner.describe(),
                "", "", "", -1, null);
    }

    private MemoryEvent add(MemoryEvent.Kind kind, long bytes, String pool, String shape, String dtype,
                            String strategy, long allocId, String stack) {
        MemoryEvent e = new MemoryEvent(seq, System.nanoTime() - start, kind, bytes, pool, shape, dtype, strategy,
                allocId, live, reserved, stack);
        ring[(int) (seq % ring.length)] = e;
        seq++;
        return e;
    }

    private static String stack() {
        StackTraceElement[] st = new Throwable().getStackTrace();
        StringBuilder sb = new StringBuilder();
        int n = 0;
        for (StackTraceElement f : st) {
            String c = f.getClassName();
            if (c.equals(MemoryHistory.class.getName()) || c.equals(TensorContext.class.getName())) {
                continue;
            }
            sb.append(f).append('\n');
            if (++n == 16) {
                break;
            }
        }
        return sb.toString();
    }

    /** The events kept, oldest first. */
    public synchronized List<MemoryEvent> events() {
        int n = (int) Math.min(seq, ring.length);
        List<MemoryEvent> out = new ArrayList<>(n);
        for (long s = seq - n; s < seq; s++) {
            out.add(ring[(int) (s % ring.length)]);
        }
        return out;
    }

    /** Events recorded in all, including dropped ones. */
    public synchronized long recordedCount() {
        return seq;
    }

    /** Events dropped by the ring buffer. */
    public synchronized long droppedCount() {
        return Math.max(0, seq - ring.length);
    }

    /** Live bytes now, as followed by the recorder. */
    public synchronized long liveBytes() {
        return live;
    }

    /** Highest live bytes seen while recording. */
    public synchronized long peakLiveBytes() {
        return peakLive;
    }

    /** Reserved bytes now, as followed by the recorder. */
    public synchronized long reservedBytes() {
        return reserved;
    }

    /** Highest reserved bytes seen while recording. */
    public synchronized long peakReservedBytes() {
        return peakReserved;
    }

    /** The context recorded. */
    public TensorContext context() {
        return ctx;
    }

    /**
     * Writes the timeline page ({@link MemoryTimelineHtml}) to {@code path}.
     *
     * @throws IOException if the file cannot be written
     */
    public void writeHtml(Path path) throws IOException {
        MemoryTimelineHtml.write(this, path);
    }
}
