package org.tensorbuffer.memory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.management.ObjectName;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.leak.LeakDetector;

/**
 * The proactive pool: buffers reserved by exact (shape, dtype) before they are needed, taken in O(1), returned on
 * release, and never given back to the device until a {@code clear*} call.
 *
 * <p>Usage follows the TensorBuffer design note: {@link #reserve(Shape, DType, int)} every activation shape of a
 * step before the loop, {@link #reserveLearnable(String, Shape, DType)} each parameter (weights are never recycled or
 * evicted), then {@link #take(Shape, DType)} during the loop. A take with no free reserved block of its key falls back
 * to the {@link BufferPool} and counts a miss, so a wrong reservation costs speed, never correctness.
 *
 * <p>Thread-safe: each (shape, dtype) key has its own lock, held for a push or pop only; there is no global lock on
 * the hit path. Blocks handed out carry the generation counter of {@link Block}, so a tensor used after its buffer
 * went back is detected.
 */
public final class TensorBuffer extends BlockOwner implements AutoCloseable {
    private static final Object LEARNABLE = new Object();

    private final Device device;
    private final BufferPool fallback;
    private final String name;
    private final DeviceAllocator allocator;
    @SuppressWarnings("unchecked")
    private final Map<Shape, Slot>[] slots = new Map[DType.values().length];
    private final Map<String, Block> learnables = new ConcurrentHashMap<>();
    private final LongAdder unkeyedMisses = new LongAdder();
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong peakLive = new AtomicLong();
    private final AtomicLong reserved = new AtomicLong();
    private final AtomicLong peakReserved = new AtomicLong();
    private final AtomicLong learnableBytes = new AtomicLong();
    private final AtomicLong rawAllocations = new AtomicLong();
    private final AtomicLong rawFrees = new AtomicLong();
    private volatile boolean closed;
    private final ObjectName objectName;

    /** One (shape, dtype) key: a stack of free reserved blocks. Guarded by its own monitor. */
    private static final class Slot {
        final Shape shape;
        final DType dtype;
        final long bytes;
        Block[] free = new Block[4];
        int freeCount;
        int total;
        long requests;
        long hits;
        boolean cleared;

        Slot(Shape shape, DType dtype, long bytes) {
            this.shape = shape;
            this.dtype = dtype;
            this.bytes = bytes;
        }
    }

    /**
     * A TensorBuffer that reserves on {@code fallback}'s device and falls back to {@code fallback}.
     *
     * @param fallback the reactive pool misses go to
     * @param name     name for statistics, JMX and logs
     */
    public TensorBuffer(BufferPool fallback, String name) {
        this.fallback = fallback;
        this.device = fallback.device();
        this.name = name;
        this.allocator = deviceAllocator(device, DeviceAllocator.MIN_ALIGNMENT);
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new ConcurrentHashMap<>();
        }
        this.objectName = MemoryMBeans.register(this);
    }

    /** A TensorBuffer named {@code default}. */
    public TensorBuffer(BufferPool fallback) {
        this(fallback, "default");
    }

    /** The device reservations are made on. */
    public Device device() {
        return device;
    }

    /** The pool misses fall back to. */
    public BufferPool fallback() {
        return fallback;
    }

    /** The name (for statistics, JMX and logs). */
    public String name() {
        return name;
    }

    /**
     * Reserves {@code count} more buffers of exactly {@code shape.byteSize(dtype)} bytes for the key
     * ({@code shape}, {@code dtype}); they are allocated on the device now.
     *
     * @throws IllegalArgumentException if {@code count} is negative
     * @throws PoolOutOfMemoryException if the device cannot provide them (after emptying the fallback pool's cache)
     */
    public void reserve(Shape shape, DType dtype, int count) {
        checkOpen();
        if (count < 0) {
            throw new IllegalArgumentException("reserve count " + count + " for " + shape + " " + dtype
                    + " is negative");
        }
        long bytes = shape.byteSize(dtype);
        Slot slot = slots[dtype.ordinal()].computeIfAbsent(shape, s -> new Slot(s, dtype, bytes));
        for (int i = 0; i < count; i++) {
            Block b = new Block(allocate(bytes), bytes, -1, this);
            b.ownerData = slot;
            synchronized (slot) {
                push(slot, b);
                slot.total++;
            }
        }
    }

    /**
     * Reserves the buffer of a parameter (weight) named {@code name}: allocated now, held until
     * {@link #clearLearnable()} or {@link #close()}, never recycled to a free list and never evicted. The returned
     * block is owned by this TensorBuffer; tensors over it {@link Block#retain() retain} it.
     *
     * @throws IllegalArgumentException if a learnable buffer of that name exists
     */
    public Block reserveLearnable(String name, Shape shape, DType dtype) {
        checkOpen();
        long bytes = shape.byteSize(dtype);
        Block b = new Block(allocate(bytes), bytes, -1, this);
        b.ownerData = LEARNABLE;
        b.acquire(); // the TensorBuffer's own reference
        if (learnables.putIfAbsent(name, b) != null) {
            freeRaw(b);
            throw new IllegalArgumentException("learnable buffer '" + name + "' is already reserved");
        }
        learnableBytes.addAndGet(bytes);
        return b;
    }

    /** The learnable buffer named {@code name}, or {@code null}. */
    public Block learnable(String name) {
        return learnables.get(name);
    }

    /**
     * A block for ({@code shape}, {@code dtype}) with reference count 1: a reserved one if one is free (a hit),
     * otherwise one from the fallback pool (a miss). Uninitialised.
     */
    public Block take(Shape shape, DType dtype) {
        Slot slot = slots[dtype.ordinal()].get(shape);
        if (slot != null) {
            Block b = null;
            synchronized (slot) {
                slot.requests++;
                if (slot.freeCount > 0) {
                    b = slot.free[--slot.freeCount];
                    slot.free[slot.freeCount] = null;
                    slot.hits++;
                }
            }
            if (b != null) {
                long l = live.addAndGet(b.capacity);
                if (l > peakLive.get()) {
                    peakLive.accumulateAndGet(l, Math::max);
                }
                b.acquire();
                return b;
            }
        } else {
            unkeyedMisses.increment();
        }
        return fallback.take(shape.byteSize(dtype));
    }

    @Override
    protected void recycle(Block b) {
        if (b.ownerData == LEARNABLE) {
            freeRaw(b);
            return;
        }
        Slot slot = (Slot) b.ownerData;
        live.addAndGet(-b.capacity);
        boolean free;
        synchronized (slot) {
            free = slot.cleared || closed;
            if (free) {
                slot.total--;
            } else {
                push(slot, b);
            }
        }
        if (free) {
            freeRaw(b);
        }
    }

    private static void push(Slot slot, Block b) {
        if (slot.freeCount == slot.free.length) {
            slot.free = java.util.Arrays.copyOf(slot.free, slot.free.length * 2);
        }
        slot.free[slot.freeCount++] = b;
    }

    /**
     * Gives every free reserved block back to the device and forgets every reservation; blocks in use are freed when
     * released. Learnable buffers are kept ({@link #clearLearnable()}).
     */
    public void clear() {
        for (Map<Shape, Slot> m : slots) {
            for (Slot s : List.copyOf(m.values())) {
                clearSlot(m, s);
            }
        }
    }

    /** As {@link #clear()} for one key; a key without reservations is ignored. */
    public void clearShape(Shape shape, DType dtype) {
        Map<Shape, Slot> m = slots[dtype.ordinal()];
        Slot s = m.get(shape);
        if (s != null) {
            clearSlot(m, s);
        }
    }

    private void clearSlot(Map<Shape, Slot> m, Slot s) {
        m.remove(s.shape, s);
        List<Block> toFree = new ArrayList<>();
        synchronized (s) {
            s.cleared = true;
            for (int i = 0; i < s.freeCount; i++) {
                toFree.add(s.free[i]);
                s.free[i] = null;
            }
            s.total -= s.freeCount;
            s.freeCount = 0;
        }
        toFree.forEach(this::freeRaw);
    }

    /**
     * Drops the TensorBuffer's reference to every learnable buffer; each is freed to the device once no tensor
     * retains it.
     */
    public void clearLearnable() {
        for (String n : List.copyOf(learnables.keySet())) {
            Block b = learnables.remove(n);
            if (b != null) {
                learnableBytes.addAndGet(-b.capacity);
                b.release();
            }
        }
    }

    private DeviceBuffer allocate(long bytes) {
        DeviceBuffer buf = allocator.allocate(bytes, fallback::emptyCache, live::get, reserved::get);
        rawAllocations.incrementAndGet();
        long r = reserved.addAndGet(bytes);
        peakReserved.accumulateAndGet(r, Math::max);
        return buf;
    }

    private void freeRaw(Block b) {
        b.retired = true;
        reserved.addAndGet(-b.capacity);
        rawFrees.incrementAndGet();
        allocator.free(b.buffer, b.capacity);
    }

    /**
     * Sets (or with {@code null} removes) the listener told of every device allocation and free of this
     * TensorBuffer (reservations, learnable buffers). Used by memory-history recorders.
     */
    public void reservationListener(ReservationListener listener) {
        allocator.reservationListener(listener);
    }

    /** The name this TensorBuffer's {@link TensorBufferMXBean} is registered under, or {@code null} when JMX is off. */
    public ObjectName objectName() {
        return objectName;
    }

    /** A snapshot of the statistics. */
    public TensorBufferStats stats() {
        long requests = unkeyedMisses.sum();
        long hits = 0;
        long blocks = 0;
        long cached = 0;
        int shapes = 0;
        for (Map<Shape, Slot> m : slots) {
            for (Slot s : m.values()) {
                synchronized (s) {
                    requests += s.requests;
                    hits += s.hits;
                    blocks += s.total;
                    cached += s.freeCount * s.bytes;
                }
                shapes++;
            }
        }
        return new TensorBufferStats(requests, hits, requests - hits, rawAllocations.get(), rawFrees.get(),
                live.get(), peakLive.get(), cached, reserved.get(), peakReserved.get(), learnableBytes.get(), blocks,
                shapes);
    }

    /** Resets the peak figures to the current ones. */
    public void resetPeak() {
        peakLive.set(live.get());
        peakReserved.set(reserved.get());
    }

    /**
     * Frees all reservations and learnable buffers and unregisters the JMX bean. Reserved blocks still handed out and
     * learnable buffers still retained by tensors are reported through {@link LeakDetector#reportOutstanding} (a WARN
     * log line with their count and bytes) and freed when released.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        long l = live.get();
        int blocks = 0;
        for (Map<Shape, Slot> m : slots) {
            for (Slot s : m.values()) {
                synchronized (s) {
                    blocks += s.total - s.freeCount;
                }
            }
        }
        for (Block b : learnables.values()) {
            if (b.refCnt() > 1) { // tensors still retain the weight beyond the TensorBuffer's own reference
                blocks++;
                l += b.capacity;
            }
        }
        clear();
        clearLearnable();
        MemoryMBeans.unregister(objectName);
        if (blocks > 0) {
            LeakDetector.reportOutstanding(describe(), blocks, l);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed");
        }
    }

    @Override
    public String describe() {
        return "TensorBuffer[" + device.id() + "/" + name + "]";
    }

    @Override
    public String toString() {
        return describe();
    }
}
