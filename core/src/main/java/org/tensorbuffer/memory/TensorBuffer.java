package org.tensorbuffer.memory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.ObjectName;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The proactive pool: buffers reserved by (shape, dtype) key (the exact shape by default, see
 * {@link ReservationKeying}) before they are needed, taken in O(1), returned on release, and never given back to the
 * device until a {@code clear*} call.
 *
 * <h2>Where reservations come from</h2>
 * <ol>
 *   <li>A recorded step: {@link #record(Runnable)} runs one step (a decode position, one einsum evaluation, any
 *       lambda) and returns a {@link ReservationPlan}: per (shape, dtype), the largest number of buffers live at the
 *       same moment. Record on a context of the {@code meta} device (shapes, dtypes and lifetimes only, no memory,
 *       kernels that compute nothing) so the step costs microseconds, then {@link #reserve(ReservationPlan)} on the
 *       real device: the real loop's first step already hits. Plans can be {@link ReservationPlan#save saved} and
 *       {@link ReservationPlan#load loaded}.</li>
 *   <li>The learning policy (off by default, {@link #enableLearning(int)}): misses are counted per key between step
 *       boundaries the caller marks with {@link #endStep()}; after N steps (default
 *       {@value #DEFAULT_LEARNING_STEPS}) the peak number of concurrent misses of each key is reserved, as ND4J's
 *       workspace learning does. Off by default because learning wraps every miss (an object per miss) and reserves
 *       memory the caller did not ask for.</li>
 *   <li>By hand: {@link #reserve(Shape, DType, int)}; {@link #reserveLearnable(String, Shape, DType)} for parameters
 *       (weights are never recycled or evicted).</li>
 * </ol>
 * A take with no free reserved block of its key falls back to the {@link BufferPool} and counts a miss, so a wrong
 * reservation costs speed, never correctness.
 *
 * <h2>Hit path</h2>
 * Each thread has a magazine per key (a small stack of free blocks, {@value #MAGAZINE} at most), as the BufferPool's
 * thread caches and Bonwick's magazines: a hit pops from it and a release on the taking thread pushes to it without
 * a lock or an atomic. Behind the magazines each key has a depot (a locked stack): a thread whose magazine is empty
 * takes up to half of the depot's blocks; a full magazine spills half of itself to the depot. A block released on a
 * thread other than the one that took it goes to the depot of its key (under its lock), where the taker's next
 * magazine refill finds it; so it is reusable by the taker (and by any other thread). Statistics are kept per thread
 * and summed by {@link #stats()}; no shared counter is written on the hit path. Finding the magazine costs no
 * hash-map probe for a shape object the thread has asked for before: each thread keeps a small direct-mapped cache
 * from the requested {@link Shape} object (by identity, indexed by its cached hash) to the magazine of its key, and
 * the first thread that uses the TensorBuffer finds its own state with one compare instead of a {@link ThreadLocal}
 * probe (other threads use the thread-local). A take on the hit path therefore reads a few fields of the thread's own
 * state, pops the magazine and sets the block's reference count (a release store); its release is one compare-and-set
 * of the reference count and a push. Requests are mapped to keys by the {@link #keying(ReservationKeying) keying}
 * (exact shape by default).
 *
 * <p>Peaks: {@code peakLiveBytes} is exact when one thread takes and releases; with several threads it is the sum of
 * each thread's own peak (an upper bound, never below the truth; with blocks released on other threads than their
 * takers it can exceed the truth by the bytes that crossed threads).
 *
 * <p>Thread-safe. Blocks handed out carry the generation counter of {@link Block}, so a tensor used after its buffer
 * went back is detected. {@link #reserve} is all-or-nothing: after an out-of-memory error it frees what it got.
 * {@link #clear()} and {@link #close()} free every free block of the cleared keys at once, wherever it sits: in a
 * depot or in the magazine of any thread, live or ended. Each key keeps the set of its blocks; the clear
 * {@linkplain Block#revoke() revokes} each free one (reference count 0 to -1, atomically) before freeing it, so an
 * entry another thread still has in its magazine can never be handed out again (a take acquires with a
 * compare-and-set and treats a revoked block as a miss), and a release racing with the clear frees its block itself
 * when it sees the key cleared (of the two, whoever revokes the block frees it: never both, never neither).
 */
public final class TensorBuffer extends BlockOwner implements AutoCloseable {
    /** Blocks a thread's magazine holds per key. */
    public static final int MAGAZINE = 32;
    /** Steps the learning policy observes before it reserves, unless {@link #enableLearning(int)} says otherwise. */
    public static final int DEFAULT_LEARNING_STEPS = 2;

    private static final Object LEARNABLE = new Object();
    private static final VarHandle CLOSED;
    private static final VarHandle PRIMARY;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(TensorBuffer.class, "closed", boolean.class);
            PRIMARY = MethodHandles.lookup().findVarHandle(TensorBuffer.class, "primary", ThreadState.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Device device;
    private final BufferPool fallback;
    private final String name;
    private final DeviceAllocator allocator;
    /**
     * The live keys per dtype. Walked only with the maps' own (weakly consistent) iterators, which return every
     * mapping present for the whole walk: never copied with {@code List.copyOf} and never tested with
     * {@code isEmpty()}/{@code size()}. Those read {@link ConcurrentHashMap}'s size counter, which is only an estimate
     * while other threads insert and remove: a thread that has published a new key (a {@code reserve}) but not yet
     * counted it, whose key another thread has already removed (a {@code clearShape}) and counted, leaves the counter
     * one low; with one key in the map it reads 0, {@code isEmpty()} says true and {@code List.copyOf(values())}
     * returns an empty list. A {@code close()} that walked such a copy skipped the only live key and never freed its
     * blocks (the 2 blocks of one {@code reserve} left on the device by the 8-thread stress, docs/reliability.md).
     */
    @SuppressWarnings("unchecked")
    private final Map<Shape, Slot>[] slots = new Map[DType.values().length];
    private final Map<String, Block> learnables = new ConcurrentHashMap<>();
    private final AtomicInteger nextSlotId = new AtomicInteger();
    private final ThreadLocal<ThreadState> threadState = ThreadLocal.withInitial(this::register);
    /**
     * The first thread that used this TensorBuffer and its state (each set once, never rewritten): that thread finds
     * its state with one compare instead of a {@link ThreadLocal} probe. The thread is kept in a field of its own so
     * that other threads compare against it without reading the primary's {@link ThreadState}, whose counters the
     * primary writes on every take (reading them would bounce that cache line between cores: measured at 65-78 ns
     * per take + close with 2 threads when the check read {@code primary.thread}).
     */
    private Thread primaryThread; // plain: only the primary thread can match it, and it sees its own writes
    private ThreadState primary;
    /** How requests map to keys; fixed once a key exists ({@link #keying(ReservationKeying)}). */
    private volatile ReservationKeying keying = ReservationKeying.SHAPE;
    private final List<ThreadState> threads = new ArrayList<>(); // guarded by itself
    private final AtomicLong reserved = new AtomicLong();
    private final AtomicLong peakReserved = new AtomicLong();
    private final AtomicLong learnableBytes = new AtomicLong();
    private final AtomicLong rawAllocations = new AtomicLong();
    private final AtomicLong rawFrees = new AtomicLong();
    /** Bytes of blocks released on a thread other than their taker's (subtracted from the takers' net bytes). */
    private final AtomicLong remoteReturnedBytes = new AtomicLong();
    /** Advanced by every clear: a thread that sees a new value frees its magazines of cleared keys. */
    private volatile int clearEpoch;
    /** A recording or the learning policy, or {@code null}; read once per take. */
    private volatile TensorBufferTracker tracker;
    private volatile TensorBufferTracker learning;
    private volatile boolean closed;
    private final ObjectName objectName;

    /** One (shape, dtype) key: the depot of free reserved blocks behind the threads' magazines. */
    private static final class Slot {
        final int id;
        final Shape shape;
        final DType dtype;
        final long bytes;
        volatile boolean cleared;
        // guarded by this
        Block[] depot = new Block[4];
        int depotCount;
        /** Reserved blocks of the key: in use, in the depot or in a magazine. */
        int total;
        /**
         * Every block object of the key (the same {@code total} blocks): in use, in the depot, in a magazine or on its
         * way there. A clear revokes and frees the free ones from here, including those in other threads' magazines.
         */
        final Set<Block> blocks = Collections.newSetFromMap(new IdentityHashMap<>());

        Slot(int id, Shape shape, DType dtype, long bytes) {
            this.id = id;
            this.shape = shape;
            this.dtype = dtype;
            this.bytes = bytes;
        }

        void push(Block b) {
            if (depotCount == depot.length) {
                depot = Arrays.copyOf(depot, depot.length * 2);
            }
            depot[depotCount++] = b;
        }
    }

    /** One thread's free blocks of one key. Written by the owning thread only. */
    private static final class Magazine {
        final Slot slot;
        final ThreadState owner;
        final Block[] blocks = new Block[MAGAZINE];
        int count;
        long hits;
        /** Takes of the key that found neither the magazine nor the depot with a free block. */
        long misses;

        Magazine(Slot slot, ThreadState owner) {
            this.slot = slot;
            this.owner = owner;
        }
    }

    /** One thread's magazines (indexed by slot id) and counters. Written by the owning thread only. */
    private static final class ThreadState {
        /** Entries of the request-to-magazine cache (a power of two). */
        static final int KEYS = 64;
        final Thread thread;
        Magazine[] magazines = new Magazine[8];
        /**
         * Direct-mapped cache from the requested {@link Shape} (the same object, or an equal one: one
         * {@code equals}, which compares the cached hashes first) to the magazine of its key: a take of a shape seen
         * before costs no hash-map probe and no key mapping. Cleared with the magazines of cleared keys
         * ({@link #dropCleared}).
         */
        final Shape[] keyShapes = new Shape[KEYS];
        final Magazine[] keyMagazines = new Magazine[KEYS];
        int seenEpoch;
        long tookBytes;
        long returnedBytes;
        long peakNetBytes;
        long unkeyedMisses;

        ThreadState(Thread thread) {
            this.thread = thread;
        }

        Magazine magazine(Slot slot) {
            int id = slot.id;
            Magazine[] m = magazines;
            if (id < m.length) {
                Magazine g = m[id];
                if (g != null) {
                    return g;
                }
            } else {
                m = magazines = Arrays.copyOf(m, Math.max(id + 1, m.length * 2));
            }
            return m[id] = new Magazine(slot, this);
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

    private ThreadState register() {
        ThreadState ts = new ThreadState(Thread.currentThread());
        ts.seenEpoch = clearEpoch;
        synchronized (threads) {
            threads.add(ts);
        }
        if (PRIMARY.compareAndSet(this, null, ts)) {
            primaryThread = ts.thread;
        }
        return ts;
    }

    /** The calling thread's state: the primary thread's by one compare, any other's from the thread-local. */
    private ThreadState state() {
        if (primaryThread == Thread.currentThread()) {
            return primary;
        }
        return threadState.get();
    }

    /**
     * Sets how requests map to reservation keys (default {@link ReservationKeying#SHAPE}). Plans recorded from this
     * TensorBuffer are then keyed the same way; a plan keyed otherwise is mapped entry by entry when reserved (entries
     * that map to one key add up, so it never reserves less than the plan asks).
     *
     * @throws IllegalStateException if a key has already been reserved (clear first) or a recording is running
     */
    public synchronized void keying(ReservationKeying keying) {
        if (keying == this.keying) {
            return;
        }
        for (Map<Shape, Slot> m : slots) {
            if (m.values().iterator().hasNext()) { // not isEmpty(): see the slots field
                throw new IllegalStateException(describe() + " has reservations keyed by " + this.keying
                        + "; clear() before keying by " + keying);
            }
        }
        if (tracker != null && tracker.all) {
            throw new IllegalStateException(describe() + " is recording; cannot change its keying");
        }
        this.keying = keying;
        if (learning != null) { // its keys would be of the old keying
            boolean current = tracker == learning;
            learning = new TensorBufferTracker(false, learning.steps, keying);
            if (current) {
                tracker = learning;
            }
        }
    }

    /** How requests map to reservation keys. */
    public ReservationKeying keying() {
        return keying;
    }

    /**
     * Reserves {@code count} more buffers of exactly {@code shape.byteSize(dtype)} bytes for the key
     * ({@code shape}, {@code dtype}); they are allocated on the device now. All or nothing: if the device runs out of
     * memory part way, the buffers this call got are freed before the exception is thrown.
     *
     * @throws IllegalArgumentException if {@code count} is negative
     * @throws IllegalStateException    if the TensorBuffer is (or gets) closed
     * @throws PoolOutOfMemoryException if the device cannot provide them (after emptying the fallback pool's cache)
     */
    public void reserve(Shape shape, DType dtype, int count) {
        checkOpen();
        if (count < 0) {
            throw new IllegalArgumentException("reserve count " + count + " for " + shape + " " + dtype
                    + " is negative");
        }
        Shape key = keying.key(shape, dtype);
        long bytes = key.byteSize(dtype);
        Block[] got = allocateBlocks(bytes, count);
        push(key, dtype, bytes, got);
    }

    /**
     * Reserves what {@code plan} says: each key of the plan is topped up to the plan's count (blocks the key already
     * has, in use or free, count towards it), so reserving the same plan twice reserves once. A plan of exact shapes
     * is mapped to this TensorBuffer's {@link #keying() keying} (entries that map to one key add up); a plan keyed
     * otherwise makes an empty TensorBuffer take its keying. All or nothing: if the
     * device runs out of memory, every buffer this call got is freed before the exception is thrown.
     *
     * @return the number of buffers allocated by this call
     * @throws IllegalStateException    if the TensorBuffer is closed, or the plan is keyed by other than shapes and
     *                                  this TensorBuffer is keyed otherwise and has reservations
     * @throws PoolOutOfMemoryException if the device cannot provide them
     */
    public int reserve(ReservationPlan plan) {
        checkOpen();
        adoptKeying(plan.keying());
        List<ReservationPlan.Entry> entries = keyed(plan.entries());
        Block[][] got = new Block[entries.size()][];
        int made = 0;
        try {
            for (int i = 0; i < got.length; i++) {
                ReservationPlan.Entry e = entries.get(i);
                Slot s = slots[e.dtype().ordinal()].get(e.shape());
                int have;
                if (s == null) {
                    have = 0;
                } else {
                    synchronized (s) {
                        have = s.total;
                    }
                }
                got[i] = allocateBlocks(e.bytes(), Math.max(0, e.count() - have));
                made += got[i].length;
            }
        } catch (RuntimeException ex) {
            for (Block[] g : got) {
                if (g != null) {
                    for (Block b : g) {
                        freeRaw(b);
                    }
                }
            }
            throw ex;
        }
        for (int i = 0; i < got.length; i++) {
            ReservationPlan.Entry e = entries.get(i);
            push(e.shape(), e.dtype(), e.bytes(), got[i]);
        }
        return made;
    }

    /**
     * A plan keyed by other than exact shapes needs this TensorBuffer keyed the same way (its shapes are keys, not
     * request shapes): an empty TensorBuffer takes the plan's keying.
     */
    private synchronized void adoptKeying(ReservationKeying k) {
        if (k == ReservationKeying.SHAPE || k == keying) {
            return;
        }
        try {
            keying(k);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("a plan keyed by " + k + " cannot be reserved in " + describe()
                    + ", keyed by " + keying + " with reservations already", e);
        }
    }

    /** The entries mapped to this TensorBuffer's keys; entries that map to one key add up. */
    private List<ReservationPlan.Entry> keyed(List<ReservationPlan.Entry> entries) {
        ReservationKeying k = keying;
        Map<List<Object>, Integer> counts = new java.util.LinkedHashMap<>();
        boolean same = true;
        for (ReservationPlan.Entry e : entries) {
            Shape key = k.key(e.shape(), e.dtype());
            same &= key.equals(e.shape());
            counts.merge(List.of(key, e.dtype()), e.count(), Integer::sum);
        }
        if (same && counts.size() == entries.size()) {
            return entries;
        }
        List<ReservationPlan.Entry> out = new ArrayList<>(counts.size());
        counts.forEach((key, n) -> out.add(new ReservationPlan.Entry((Shape) key.get(0), (DType) key.get(1), n)));
        return out;
    }

    /** Allocates {@code count} blocks of {@code bytes}; frees them all and rethrows if one allocation fails. */
    private Block[] allocateBlocks(long bytes, int count) {
        Block[] got = new Block[count];
        int n = 0;
        try {
            for (; n < count; n++) {
                got[n] = new Block(allocate(bytes), bytes, -1, this);
            }
        } catch (RuntimeException e) {
            for (int i = 0; i < n; i++) {
                freeRaw(got[i]);
            }
            throw e;
        }
        return got;
    }

    /**
     * Adds freshly allocated blocks to the key's depot. Done under the slot's lock after checking that the slot is
     * still the live one: a slot cleared since it was looked up is replaced, and blocks are never pushed into a
     * cleared slot (where nobody would find or free them). After close they are freed.
     */
    private void push(Shape shape, DType dtype, long bytes, Block[] got) {
        if (got.length == 0) {
            return;
        }
        Map<Shape, Slot> m = slots[dtype.ordinal()];
        for (;;) {
            Slot slot = m.computeIfAbsent(shape, s -> new Slot(nextSlotId.getAndIncrement(), s, dtype, bytes));
            synchronized (slot) {
                if (!slot.cleared) {
                    if (!closed) {
                        for (Block b : got) {
                            slot.push(b);
                            slot.blocks.add(b);
                        }
                        slot.total += got.length;
                        return;
                    }
                    break;
                }
            }
            // cleared between lookup and lock: clearSlot removed it from the map first, so look again
        }
        for (Block b : got) {
            freeRaw(b);
        }
        throw new IllegalStateException(describe() + " is closed");
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
        if (closed && learnables.remove(name, b)) { // a close ran its clearLearnable before the put
            learnableBytes.addAndGet(-bytes);
            b.release();
            throw new IllegalStateException(describe() + " is closed");
        }
        return b;
    }

    /**
     * Buffers reserved for the key ({@code shape}, {@code dtype}) and not cleared: those free plus those handed out
     * (0 for a key never reserved). Lets a layer above choose between keys, e.g. {@link ShapeBuckets}.
     */
    public int reservedCount(Shape shape, DType dtype) {
        Slot slot = slots[dtype.ordinal()].get(keying.key(shape, dtype));
        if (slot == null) {
            return 0;
        }
        synchronized (slot) {
            return slot.cleared ? 0 : slot.total;
        }
    }

    /** The learnable buffer named {@code name}, or {@code null}. */
    public Block learnable(String name) {
        return learnables.get(name);
    }

    /**
     * A block for ({@code shape}, {@code dtype}) with reference count 1: a reserved one if one is free (a hit),
     * otherwise one from the fallback pool (a miss). Uninitialised. The block may be wrapped in a view of any shape
     * of at most {@link Block#capacity()} bytes (e.g. a prefix {@code [T, dim]} of a block reserved for
     * {@code [T', dim]}).
     */
    public Block take(Shape shape, DType dtype) {
        ThreadState ts = state();
        if (ts.seenEpoch != clearEpoch) {
            dropCleared(ts);
        }
        TensorBufferTracker tr = tracker;
        int h = shape.hashCode() + dtype.ordinal() * 0x61c88647;
        int i = (h ^ (h >>> 16)) & (ThreadState.KEYS - 1);
        Magazine m = ts.keyMagazines[i];
        Shape cached = ts.keyShapes[i];
        // the same Shape object, or an equal one (hash first): ops that build their output's shape anew each call
        // (matmul, attention's scores) found the cache only with the identical object, and paid the keying and the
        // map lookup of resolve on every take (docs/benchmarks.md, issue 14, "Round 7")
        if ((cached != shape && (cached == null || !cached.equals(shape))) || m.slot.dtype != dtype) {
            m = resolve(ts, shape, dtype, i);
            if (m == null) {
                ts.unkeyedMisses++;
                return fromFallback(shape, keying.key(shape, dtype), dtype, tr);
            }
        }
        Block b;
        int c = m.count;
        if (c > 0) {
            b = m.blocks[--c];
            m.blocks[c] = null;
            m.count = c;
        } else if ((b = refill(m)) == null) {
            m.misses++;
            return fromFallback(shape, m.slot.shape, dtype, tr);
        }
        if (!b.tryAcquire()) {
            // revoked and freed by a concurrent clear or close of the key: never handed out; a miss
            dropCleared(ts);
            ts.unkeyedMisses++;
            return fromFallback(shape, m.slot.shape, dtype, tr);
        }
        m.hits++;
        long net = (ts.tookBytes += b.capacity) - ts.returnedBytes;
        if (net > ts.peakNetBytes) {
            ts.peakNetBytes = net;
        }
        return tr != null && tr.all ? tr.wrap(this, b, m.slot.shape, dtype) : b;
    }

    /** A miss: a block of {@code shape}'s size from the fallback pool, wrapped for leak tracking under {@code key}. */
    private Block fromFallback(Shape shape, Shape key, DType dtype, TensorBufferTracker tr) {
        Block b = fallback.take(shape.byteSize(dtype));
        return tr != null ? tr.wrap(this, b, key, dtype) : b;
    }

    /**
     * The calling thread's magazine for the key {@code shape} maps to, entered in its request cache at {@code i}; or
     * {@code null} when the key has no reservation (nothing is cached then, so a later reservation is found).
     */
    private Magazine resolve(ThreadState ts, Shape shape, DType dtype, int i) {
        Slot slot = slots[dtype.ordinal()].get(keying.key(shape, dtype));
        if (slot == null) {
            return null;
        }
        Magazine m = ts.magazine(slot);
        ts.keyShapes[i] = shape;
        ts.keyMagazines[i] = m;
        return m;
    }

    /**
     * Moves up to half of the key's depot (at least one block) into the empty magazine and pops one. A block that
     * last lived in another thread's magazine (or was never taken) gets a fresh {@link Block} object over the same
     * memory, allocated by this thread: blocks allocated one after another by {@code reserve} or by another thread sit
     * next to each other on the heap, and their reference counts, written on every take and release, would share
     * cache lines between threads (false sharing). The old object is free and unreachable from the TensorBuffer.
     */
    private Block refill(Magazine m) {
        Slot s = m.slot;
        int move;
        Block[] got;
        synchronized (s) {
            int n = s.depotCount;
            if (n == 0) {
                return null;
            }
            move = Math.min(MAGAZINE, (n + 1) / 2);
            got = new Block[move];
            for (int i = 0; i < move; i++) {
                Block x = s.depot[--n];
                s.depot[n] = null;
                if (!(x.ownerData instanceof Magazine home) || home.owner != m.owner) {
                    Block fresh = new Block(x.buffer, x.capacity, -1, this);
                    s.blocks.remove(x); // under the lock, so that a clear sees the object that will be taken
                    s.blocks.add(fresh);
                    x = fresh;
                }
                got[i] = x;
            }
            s.depotCount = n;
        }
        for (int i = 0; i < move; i++) {
            // fresh objects for blocks from another thread were made under the lock above
            got[i].ownerData = m; // stays while the block moves between this magazine and this thread's takes
            if (i > 0) {
                m.blocks[m.count++] = got[i];
            }
        }
        return got[0];
    }

    @Override
    protected void recycle(Block b) {
        Object od = b.ownerData;
        if (!(od instanceof Magazine m)) {
            if (od == LEARNABLE) {
                freeRaw(b);
            } else {
                TensorBufferTracker.released((TensorBufferTracker.Tracked) od);
            }
            return;
        }
        ThreadState ts = m.owner;
        Slot slot = m.slot;
        if (ts.thread == Thread.currentThread()) {
            ts.returnedBytes += b.capacity;
            int c = m.count;
            if (c < MAGAZINE && !slot.cleared) {
                m.blocks[c] = b;
                m.count = c + 1;
                return;
            }
            recycleToDepot(slot, b, m);
        } else {
            remoteReturnedBytes.addAndGet(b.capacity);
            recycleToDepot(slot, b, null);
        }
    }

    /**
     * Returns a block to its key's depot, or frees it if the key was cleared (unless the clear revoked and freed it
     * first); with the owner's full magazine {@code spill}, also moves half of that magazine to the depot.
     */
    private void recycleToDepot(Slot slot, Block b, Magazine spill) {
        boolean free;
        synchronized (slot) {
            free = slot.cleared;
            if (free) {
                slot.total--;
                free = b.revoke();
            } else {
                slot.push(b);
                if (spill != null && spill.count == MAGAZINE) {
                    for (int i = 0; i < MAGAZINE / 2; i++) {
                        Block x = spill.blocks[--spill.count];
                        spill.blocks[spill.count] = null;
                        slot.push(x);
                    }
                }
            }
        }
        if (free) {
            freeRaw(b);
        }
    }

    /**
     * Drops the calling thread's magazine entries of cleared keys, freeing those the clear has not revoked (freed)
     * already. Called by the magazine's owner (or for a dead one).
     */
    private void dropCleared(ThreadState ts) {
        ts.seenEpoch = clearEpoch;
        Arrays.fill(ts.keyShapes, null);
        Arrays.fill(ts.keyMagazines, null);
        for (Magazine m : ts.magazines) {
            if (m != null && m.count > 0 && m.slot.cleared) {
                Block[] toFree = Arrays.copyOf(m.blocks, m.count);
                Arrays.fill(m.blocks, null);
                synchronized (m.slot) {
                    m.slot.total -= m.count;
                }
                m.count = 0;
                for (Block x : toFree) {
                    if (x.revoke()) {
                        freeRaw(x);
                    }
                }
            }
        }
    }

    /**
     * Gives every free reserved block back to the device and forgets every reservation; blocks in use are freed when
     * released. Learnable buffers are kept ({@link #clearLearnable()}). Free blocks in the magazines of other threads
     * are freed too, at once (see the class comment); may race with takes and releases on other threads.
     */
    public void clear() {
        for (Map<Shape, Slot> m : slots) {
            for (Slot s : m.values()) { // the map itself, never a size-based copy: see the slots field
                clearSlot(m, s);
            }
        }
        afterClear();
    }

    /** As {@link #clear()} for one key; a key without reservations is ignored. */
    public void clearShape(Shape shape, DType dtype) {
        Map<Shape, Slot> m = slots[dtype.ordinal()];
        Slot s = m.get(keying.key(shape, dtype));
        if (s != null) {
            clearSlot(m, s);
            afterClear();
        }
    }

    /**
     * Marks the key cleared and frees every free block of it, in the depot and in any thread's magazine: each is
     * revoked first, so that neither a stale magazine entry nor a racing release can hand it out or free it again.
     *
     * @return the blocks of the key still in use (freed when released)
     */
    private int clearSlot(Map<Shape, Slot> m, Slot s) {
        m.remove(s.shape, s);
        Block[] all;
        synchronized (s) {
            s.cleared = true; // volatile write before reading any reference count below (pairs with recycle's CAS)
            Arrays.fill(s.depot, 0, s.depotCount, null);
            s.total -= s.depotCount;
            s.depotCount = 0;
            all = s.blocks.toArray(new Block[0]);
            s.blocks.clear();
        }
        int inUse = 0;
        for (Block b : all) {
            if (b.revoke()) {
                freeRaw(b);
            } else if (b.refCnt() > 0) {
                inUse++;
            }
        }
        return inUse;
    }

    private void afterClear() {
        clearEpoch++;
        ThreadState own = state();
        dropCleared(own);
        for (ThreadState ts : threadSnapshot()) {
            if (ts != own && !ts.thread.isAlive()) {
                dropCleared(ts);
            }
        }
    }

    private List<ThreadState> threadSnapshot() {
        synchronized (threads) {
            return List.copyOf(threads);
        }
    }

    /**
     * Drops the TensorBuffer's reference to every learnable buffer; each is freed to the device once no tensor
     * retains it.
     */
    public void clearLearnable() {
        for (String n : learnables.keySet()) { // not List.copyOf: see the slots field
            Block b = learnables.remove(n);
            if (b != null) {
                learnableBytes.addAndGet(-b.capacity);
                b.release();
            }
        }
    }

    /**
     * Runs {@code step} and returns what it took from this TensorBuffer as a plan: per (shape, dtype), the largest
     * number of buffers live at the same moment. Every take during the step is counted (hits and misses, from every
     * thread); the step runs normally otherwise. Tensors still open when the step returns count as live to the end.
     * Run the step on a context of the {@code meta} device to get the plan without doing the work, then
     * {@link #reserve(ReservationPlan)} it on the real device.
     *
     * @throws IllegalStateException if a recording is already running or the TensorBuffer is closed
     */
    public ReservationPlan record(Runnable step) {
        checkOpen();
        TensorBufferTracker t = new TensorBufferTracker(true, 0, keying);
        synchronized (this) {
            if (tracker != null && tracker.all) {
                throw new IllegalStateException(describe() + " is already recording");
            }
            tracker = t;
        }
        try {
            step.run();
        } finally {
            synchronized (this) {
                tracker = learning;
            }
        }
        return t.plan();
    }

    /**
     * Turns on the learning policy: misses are counted per (shape, dtype) between the step boundaries marked with
     * {@link #endStep()}, and every {@code steps} steps each key's peak number of concurrent misses is
     * {@linkplain #reserve(Shape, DType, int) reserved} on top of what it has. While learning, each miss hands out a
     * small wrapper object (hits are unaffected).
     *
     * @throws IllegalArgumentException if {@code steps < 1}
     */
    public synchronized void enableLearning(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("learning steps " + steps + " must be at least 1");
        }
        learning = new TensorBufferTracker(false, steps, keying);
        if (tracker == null || !tracker.all) {
            tracker = learning;
        }
    }

    /** {@link #enableLearning(int)} with {@value #DEFAULT_LEARNING_STEPS} steps. */
    public void enableLearning() {
        enableLearning(DEFAULT_LEARNING_STEPS);
    }

    /** Turns the learning policy off (the default). */
    public synchronized void disableLearning() {
        learning = null;
        if (tracker != null && !tracker.all) {
            tracker = null;
        }
    }

    /** Whether the learning policy is on. */
    public boolean learningEnabled() {
        return learning != null;
    }

    /**
     * Marks a step boundary for the learning policy; after the configured number of steps, reserves each key's peak
     * number of concurrent misses. Does nothing while learning is off.
     *
     * @return the plan reserved at this boundary, or an empty plan
     * @throws PoolOutOfMemoryException if the learned reservation does not fit (nothing of it is kept)
     */
    public ReservationPlan endStep() {
        TensorBufferTracker l = learning;
        if (l == null || closed) {
            return ReservationPlan.empty();
        }
        ReservationPlan learned = l.endStep();
        if (learned == null || learned.size() == 0) {
            return ReservationPlan.empty();
        }
        List<ReservationPlan.Entry> topUp = new ArrayList<>();
        for (ReservationPlan.Entry e : learned.entries()) {
            Slot s = slots[e.dtype().ordinal()].get(keying.key(e.shape(), e.dtype()));
            int have;
            if (s == null) {
                have = 0;
            } else {
                synchronized (s) {
                    have = s.total;
                }
            }
            topUp.add(new ReservationPlan.Entry(e.shape(), e.dtype(), have + e.count()));
        }
        reserve(new ReservationPlan(topUp, keying));
        return learned;
    }

    private DeviceBuffer allocate(long bytes) {
        DeviceBuffer buf = allocator.allocate(bytes, fallback::emptyCache, () -> stats().liveBytes(), reserved::get);
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

    /**
     * A snapshot of the statistics, summed over the threads' counters (read without stopping them: while other
     * threads take, the figures are a moment's approximation). See the class comment for the meaning of the peak.
     */
    public TensorBufferStats stats() {
        long requests = 0;
        long hits = 0;
        long took = 0;
        long returned = remoteReturnedBytes.get();
        long peak = 0;
        long cached = 0;
        for (ThreadState ts : threadSnapshot()) {
            requests += ts.unkeyedMisses;
            took += ts.tookBytes;
            returned += ts.returnedBytes;
            peak += ts.peakNetBytes;
            for (Magazine m : ts.magazines) {
                if (m != null) {
                    requests += m.hits + m.misses;
                    hits += m.hits;
                    if (!m.slot.cleared) {
                        cached += (long) m.count * m.slot.bytes;
                    }
                }
            }
        }
        long blocks = 0;
        int shapes = 0;
        for (Map<Shape, Slot> m : slots) {
            for (Slot s : m.values()) {
                synchronized (s) {
                    blocks += s.total;
                    cached += s.depotCount * s.bytes;
                }
                shapes++;
            }
        }
        long live = took - returned;
        return new TensorBufferStats(requests, hits, requests - hits, rawAllocations.get(), rawFrees.get(),
                live, Math.max(peak, live), cached, reserved.get(), peakReserved.get(), learnableBytes.get(), blocks,
                shapes);
    }

    /**
     * Resets the peak figures to the current ones. Best effort for threads taking at the same moment (their next
     * take re-raises the peak).
     */
    public void resetPeak() {
        for (ThreadState ts : threadSnapshot()) {
            ts.peakNetBytes = Math.max(0, ts.tookBytes - ts.returnedBytes);
        }
        peakReserved.set(reserved.get());
    }

    /**
     * Frees all reservations and learnable buffers and unregisters the JMX bean. Free reserved blocks are freed at
     * once, including those in the magazines of other live threads (see the class comment). Reserved blocks still
     * handed out and learnable buffers still retained by tensors are reported through
     * {@link LeakDetector#reportOutstanding} (a WARN log line with their count and bytes) and freed when released.
     * Idempotent and atomic: of concurrent calls, one closes. May race with takes and releases on other threads: a
     * take after close falls back to the pool.
     */
    @Override
    public void close() {
        if (!CLOSED.compareAndSet(this, false, true)) {
            return;
        }
        int blocks = 0;
        long l = 0;
        for (Block b : learnables.values()) {
            if (b.refCnt() > 1) { // tensors still retain the weight beyond the TensorBuffer's own reference
                blocks++;
                l += b.capacity;
            }
        }
        for (Map<Shape, Slot> m : slots) {
            for (Slot s : m.values()) { // the map itself, never a size-based copy: see the slots field
                int out = clearSlot(m, s); // frees the free blocks of every thread's magazine too
                blocks += out;
                l += out * s.bytes;
            }
        }
        afterClear();
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
