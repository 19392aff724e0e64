package org.tensorbuffer.observe;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * A recorder of a context's allocation events (tensor allocations and frees, device reservations and releases) in a
 * bounded ring buffer, as PyTorch's {@code torch.cuda.memory._record_memory_history}. {@link #writeHtml(Path)} turns
 * it into a self-contained page with a timeline of live and reserved bytes and the largest allocations
 * ({@link MemoryTimelineHtml}); {@link #writeSnapshot(Path)} writes the pickle of
 * {@code torch.cuda.memory._dump_snapshot()} ({@link TorchMemorySnapshot}) for PyTorch's own viewer
 * ({@code memory_viz}, {@code torch.cuda._memory_viz}).
 *
 * <pre>{@code
 * MemoryHistory history = MemoryHistory.record(ctx);   // start recording (ctx: a TensorContext)
 * ... workload ...
 * history.stop();
 * history.writeHtml(Path.of("timeline.html"));
 * history.writeSnapshot(Path.of("snapshot.pickle"));
 * }</pre>
 *
 * <p><b>Live</b> bytes are the block bytes of every tensor of the context that is not yet freed, <em>including</em>
 * tensors allocated before recording started (model weights, caches): recording starts from the context's
 * {@code allocated_bytes.all.current}. <b>Reserved</b> bytes are the device memory held by the context's allocators
 * (pool, TensorBuffer, raw allocator, planner arena), live or cached. Every event carries both after it, so the
 * timeline stays right when the ring buffer drops old events.
 *
 * <p>Thread-safe (the recording methods are synchronized; this is a debugging tool, not a hot-path one).
 */
public final class MemoryHistory implements AutoCloseable {
    /** Default ring-buffer capacity in events. */
    public static final int DEFAULT_CAPACITY = 100_000;
    /** Frames kept per stack. */
    static final int MAX_FRAMES = 24;

    private final MemorySource ctx;
    private final MemoryEvent[] ring;
    private final boolean stacks;
    private final long start = System.nanoTime();
    private final Map<Key, MemoryEvent> liveAllocs = new HashMap<>();
    /** Device allocations made while recording and not yet freed: address -> RESERVE event. */
    private final TreeMap<Long, MemoryEvent> segments = new TreeMap<>();
    private final Listener listener = new Listener();
    private final long liveAtStart;
    private volatile String description = "";
    private long seq;
    private long live;
    private long reserved;
    private long peakLive;
    private long peakReserved;
    private boolean stopped;

    /** A block in one lease: blocks are recycled, the generation tells leases apart. Block equality is identity. */
    private record Key(Block block, int generation) {
    }

    private MemoryHistory(MemorySource ctx, int capacity, boolean stacks) {
        if (capacity < 1) {
            throw new IllegalArgumentException("history capacity " + capacity + " must be at least 1");
        }
        this.ctx = ctx;
        this.ring = new MemoryEvent[capacity];
        this.stacks = stacks;
        this.liveAtStart = ctx.memoryCounters().get("allocated_bytes", "all", "current");
        this.live = liveAtStart;
        this.peakLive = live;
        this.reserved = ctx.pool().stats().reservedBytes() + ctx.tensorBuffer().stats().reservedBytes()
                + ctx.raw().liveBytes() + ctx.planner().stats().arenaBytes();
        this.peakReserved = reserved;
    }

    /** Starts recording {@code ctx} with {@link #DEFAULT_CAPACITY} events and no stacks. */
    public static MemoryHistory record(MemorySource ctx) {
        return record(ctx, DEFAULT_CAPACITY, false);
    }

    /**
     * Starts recording {@code ctx}, replacing any {@link AllocationListener} it had.
     *
     * @param capacity events kept (older ones are dropped)
     * @param stacks   whether to keep each allocation's stack (costs a stack walk per allocation)
     * @throws IllegalArgumentException if {@code capacity < 1}
     */
    public static MemoryHistory record(MemorySource ctx, int capacity, boolean stacks) {
        MemoryHistory h = new MemoryHistory(ctx, capacity, stacks);
        ctx.allocationListener(h.listener);
        return h;
    }

    /** Stops recording (uninstalls the listener); the events stay. Idempotent. */
    public synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        if (ctx.allocationListener() == listener) {
            ctx.allocationListener(null);
        }
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    /** Whether stacks are recorded. */
    public boolean recordsStacks() {
        return stacks;
    }

    /**
     * Sets the text shown at the top of the pages and stored in the snapshot: what ran, e.g. the model or instance and
     * the command line. Never {@code null}.
     */
    public void description(String text) {
        this.description = text == null ? "" : text;
    }

    /** The text set by {@link #description(String)} (empty by default). */
    public String description() {
        return description;
    }

    /** The listener, private so that recording stays out of MemoryHistory's public API. */
    private final class Listener implements AllocationListener {
        @Override
        public void allocated(Block block, long requestedBytes, Shape shape, DType dtype, String strategy) {
            recordAlloc(block, requestedBytes, shape, dtype, strategy);
        }

        @Override
        public void freed(Block block, int generation, long requestedBytes) {
            recordFree(block, generation, requestedBytes);
        }

        @Override
        public void reservationChanged(BlockOwner owner, long deltaBytes) {
            reservation(owner, null, deltaBytes);
        }

        @Override
        public void reservationChanged(BlockOwner owner, DeviceBuffer buffer, long deltaBytes) {
            reservation(owner, buffer, deltaBytes);
        }
    }

    private synchronized void recordAlloc(Block b, long requested, Shape shape, DType dtype, String strategy) {
        if (stopped) {
            return;
        }
        live += b.capacity();
        peakLive = Math.max(peakLive, live);
        long id = seq;
        MemoryEvent e = add(MemoryEvent.Kind.ALLOC, b.capacity(), b.owner().describe(), shape.toString(),
                dtype.name(), strategy, id, b.buffer().address(), requested, stacks ? frames() : null);
        liveAllocs.put(new Key(b, b.generation()), e);
    }

    private synchronized void recordFree(Block block, int generation, long requested) {
        if (stopped) {
            return;
        }
        live -= block.capacity();
        MemoryEvent a = liveAllocs.remove(new Key(block, generation));
        if (a == null) { // allocated before recording started
            add(MemoryEvent.Kind.FREE, block.capacity(), block.owner().describe(), "", "", "", -1,
                    block.buffer().address(), requested, null);
            return;
        }
        add(MemoryEvent.Kind.FREE, a.bytes(), a.pool(), a.shape(), a.dtype(), a.strategy(), a.allocId(), a.address(),
                a.requestedBytes(), a.frames());
    }

    private synchronized void reservation(BlockOwner owner, DeviceBuffer buffer, long delta) {
        if (stopped) {
            return;
        }
        reserved += delta;
        peakReserved = Math.max(peakReserved, reserved);
        long address = buffer == null ? 0 : buffer.address();
        MemoryEvent e = add(delta >= 0 ? MemoryEvent.Kind.RESERVE : MemoryEvent.Kind.UNRESERVE, Math.abs(delta),
                owner.describe(), "", "", "", -1, address, Math.abs(delta), stacks && delta >= 0 ? frames() : null);
        if (buffer != null) {
            if (delta >= 0) {
                segments.put(address, e);
            } else {
                segments.remove(address);
            }
        }
    }

    private MemoryEvent add(MemoryEvent.Kind kind, long bytes, String pool, String shape, String dtype,
                            String strategy, long allocId, long address, long requested,
                            List<StackTraceElement> frames) {
        MemoryEvent e = new MemoryEvent(seq, System.nanoTime() - start, kind, bytes, pool, shape, dtype, strategy,
                allocId, live, reserved, address, requested, frames);
        ring[(int) (seq % ring.length)] = e;
        seq++;
        return e;
    }

    /** The caller's frames, innermost first, without the recorder's, the context's and the allocators' frames. */
    private static List<StackTraceElement> frames() {
        StackTraceElement[] st = new Throwable().getStackTrace();
        List<StackTraceElement> out = new ArrayList<>(MAX_FRAMES);
        for (StackTraceElement f : st) {
            String c = f.getClassName();
            if (c.equals(MemoryHistory.class.getName()) || c.startsWith(MemoryHistory.class.getName() + "$")
                    || c.equals("org.tensorbuffer.TensorContext")
                    || c.startsWith("org.tensorbuffer.memory.") || c.startsWith("org.tensorbuffer.plan.")) {
                continue;
            }
            out.add(f);
            if (out.size() == MAX_FRAMES) {
                break;
            }
        }
        return List.copyOf(out);
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

    /** ALLOC events of the tensors allocated while recording and not yet freed, in allocation order. */
    synchronized List<MemoryEvent> liveAllocations() {
        MemoryEvent[] a = liveAllocs.values().toArray(new MemoryEvent[0]);
        Arrays.sort(a, (x, y) -> Long.compare(x.seq(), y.seq()));
        return List.of(a);
    }

    /** RESERVE events of the device allocations made while recording and not yet freed, by address. */
    synchronized List<MemoryEvent> liveSegments() {
        return List.copyOf(segments.values());
    }

    /** Events recorded in all, including dropped ones. */
    public synchronized long recordedCount() {
        return seq;
    }

    /** Events dropped by the ring buffer. */
    public synchronized long droppedCount() {
        return Math.max(0, seq - ring.length);
    }

    /** Live bytes when recording started (tensors allocated earlier, e.g. weights). */
    public long liveBytesAtStart() {
        return liveAtStart;
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
    public MemorySource context() {
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

    /**
     * Writes the PyTorch memory snapshot ({@link TorchMemorySnapshot}, the pickle of
     * {@code torch.cuda.memory._dump_snapshot()}) to {@code path}.
     *
     * @throws IOException if the file cannot be written
     */
    public void writeSnapshot(Path path) throws IOException {
        TorchMemorySnapshot.write(this, path);
    }
}
