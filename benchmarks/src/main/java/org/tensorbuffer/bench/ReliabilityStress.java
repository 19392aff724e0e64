package org.tensorbuffer.bench;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.cpu.CpuDevice;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.leak.LeakReport;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.TensorBuffer;
import org.tensorbuffer.memory.TensorBufferStats;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The reliability stress of issue 15 (not part of the test run; {@code scripts/stress.sh} runs it): N threads for D
 * seconds take and release pool blocks and tensors (reactive and proactive contexts), release about half of them on
 * another thread than the taker (through a shared hand-off queue), clear TensorBuffer reservations and re-reserve them,
 * and every so often replace the whole pool + TensorBuffer ("epoch") and close the old one while other threads still
 * take from it and hold and release its blocks.
 *
 * <p>Ownership stamps: every buffer handed out is entered in a table (address to stamp) and a unique stamp is written
 * into its first 8 bytes; before it is released the stamp is checked and the entry removed. An error is a buffer handed
 * to two owners, a stamp overwritten, an entry lost, or any unexpected exception (a take refused with "is closed" by a
 * closed epoch is expected and counted). At the end every epoch is closed; the figures printed are the errors, the
 * live bytes of every pool and TensorBuffer (must be 0), the bytes the device still holds (must be 0) and the leak
 * reports (must be 0).
 *
 * <p>Usage: {@code ReliabilityStress [threads=8] [seconds=60]}. Exit status 0 when clean, 1 otherwise.
 */
public final class ReliabilityStress {
    private static final long[] SIZES = {16, 100, 512, 4096, 20_000, 65_536, 262_144};
    private static final Shape[] SHAPES = {Shape.of(4), Shape.of(25), Shape.of(8, 16), Shape.of(1024),
        Shape.of(64, 80)};

    private final CpuDevice device = new CpuDevice();
    private final AtomicReference<Epoch> epoch = new AtomicReference<>();
    private final List<Epoch> epochs = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<Long, Long> owners = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Item> handOff = new ConcurrentLinkedQueue<>();
    private final AtomicLong stamps = new AtomicLong(1);
    private final AtomicLong ops = new AtomicLong();
    private final AtomicLong crossThreadReleases = new AtomicLong();
    private final AtomicLong refusedByClose = new AtomicLong();
    private final AtomicLong clears = new AtomicLong();
    private final AtomicLong epochCloses = new AtomicLong();
    private final List<String> errors = new CopyOnWriteArrayList<>();

    /** One pool + TensorBuffer and the two contexts over them. */
    private final class Epoch {
        final BufferPool pool = BufferPool.builder(device).name("stress-" + epochs.size())
                .maxCachedBytes(4L << 20).maxThreadCacheBytes(256 << 10).maxBlocksPerClass(16).build();
        final TensorBuffer tb = new TensorBuffer(pool, "stress-" + epochs.size());
        final TensorContext reactive = TensorContext.over(pool, tb, AllocationStrategy.REACTIVE);
        final TensorContext proactive = TensorContext.over(pool, tb, AllocationStrategy.PROACTIVE);

        Epoch() {
            for (Shape s : SHAPES) {
                tb.reserve(s, DType.F32, 4);
            }
        }

        void close() {
            reactive.close();
            proactive.close();
            tb.close();
            pool.close();
        }
    }

    /** A block or tensor handed out, with its stamp. */
    private final class Item {
        final Block block;
        final Tensor tensor;
        final long address;
        final long stamp = stamps.getAndIncrement();

        Item(Block block, Tensor tensor) {
            this.block = block;
            this.tensor = tensor;
            DeviceBuffer buf = tensor != null ? tensor.buffer() : block.buffer();
            this.address = buf.address() + (tensor != null ? tensor.byteOffset() : 0);
            Long prev = owners.putIfAbsent(address, stamp);
            if (prev != null) {
                errors.add("buffer 0x" + Long.toHexString(address) + " handed to two owners (stamps " + prev + ", "
                        + stamp + ")");
            }
            segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, stamp);
        }

        private MemorySegment segment() {
            return MemorySegment.ofAddress(address).reinterpret(8);
        }

        void release() {
            long got = segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
            if (got != stamp) {
                errors.add("stamp " + stamp + " overwritten with " + got);
            }
            if (!owners.remove(address, stamp)) {
                errors.add("ownership entry of stamp " + stamp + " lost");
            }
            if (tensor != null) {
                tensor.release();
            } else {
                block.release();
            }
        }
    }

    private void work(long seed, long deadline) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Item> mine = new ArrayList<>();
        while (System.nanoTime() < deadline) {
            ops.incrementAndGet();
            int op = rnd.nextInt(1000);
            Epoch e = epoch.get();
            try {
                if (op < 300) {
                    mine.add(new Item(e.pool.take(SIZES[rnd.nextInt(SIZES.length)]), null));
                } else if (op < 550) {
                    TensorContext ctx = rnd.nextBoolean() ? e.reactive : e.proactive;
                    mine.add(new Item(null, ctx.empty(SHAPES[rnd.nextInt(SHAPES.length)], DType.F32)));
                } else if (op < 900) {
                    Item it = null;
                    if (rnd.nextBoolean()) {
                        it = handOff.poll();
                        if (it != null) {
                            crossThreadReleases.incrementAndGet();
                        }
                    }
                    if (it == null && !mine.isEmpty()) {
                        it = mine.remove(rnd.nextInt(mine.size()));
                    }
                    if (it != null) {
                        it.release();
                    }
                } else if (op < 990) {
                    if (!mine.isEmpty()) {
                        handOff.add(mine.remove(rnd.nextInt(mine.size()))); // someone else releases it
                    }
                } else if (op < 998) {
                    Shape s = SHAPES[rnd.nextInt(SHAPES.length)];
                    if (rnd.nextBoolean()) {
                        e.tb.clearShape(s, DType.F32);
                    } else {
                        e.tb.clear();
                    }
                    clears.incrementAndGet();
                    e.tb.reserve(s, DType.F32, 2);
                } else if (rnd.nextInt(50) == 0) {
                    Epoch fresh = new Epoch();
                    if (epoch.compareAndSet(e, fresh)) {
                        epochs.add(fresh);
                        e.close(); // other threads still take from it, hold and release its blocks
                        epochCloses.incrementAndGet();
                    } else {
                        fresh.close();
                    }
                }
            } catch (IllegalStateException ex) {
                if (String.valueOf(ex.getMessage()).endsWith("is closed")) {
                    refusedByClose.incrementAndGet();
                } else {
                    errors.add(ex.toString());
                }
            } catch (RuntimeException ex) {
                errors.add(ex.toString());
            }
            if (mine.size() > 64) {
                mine.remove(0).release();
            }
        }
        for (Item it : mine) {
            it.release();
        }
    }

    private int run(int threads, double seconds) throws InterruptedException {
        LeakDetector.level(LeakDetector.Level.DISABLED);
        List<LeakReport> leaks = new CopyOnWriteArrayList<>();
        LeakDetector.addListener(r -> {
            if (r.kind() == LeakReport.Kind.UNREACHABLE) { // epochs closed under load report held blocks: expected
                leaks.add(r);
            }
        });
        Epoch first = new Epoch();
        epochs.add(first);
        epoch.set(first);
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        List<Thread> ts = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < threads; i++) {
            long seed = 1000 + i;
            Thread t = new Thread(() -> {
                try {
                    work(seed, deadline);
                } catch (Throwable ex) {
                    errors.add("thread died: " + ex);
                }
            }, "stress-" + i);
            ts.add(t);
            t.start();
        }
        for (Thread t : ts) {
            t.join();
        }
        Item it;
        while ((it = handOff.poll()) != null) {
            it.release();
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        long poolLive = 0;
        long tbLive = 0;
        long requests = 0;
        for (Epoch e : epochs) {
            PoolStats ps = e.pool.stats();
            TensorBufferStats ts2 = e.tb.stats();
            poolLive += ps.liveBytes();
            tbLive += ts2.liveBytes();
            requests += ps.requests() + ts2.requests();
        }
        epoch.get().close();
        for (Epoch e : epochs) {
            e.close(); // idempotent for the closed ones
        }
        long deviceBytes = device.usedBytes();
        int deviceBuffers = device.liveBuffers();
        // where device bytes left after close are held, by the owners' own accounting (empty when clean)
        StringBuilder holders = new StringBuilder();
        for (Epoch e : epochs) {
            long pr = e.pool.stats().reservedBytes();
            TensorBufferStats tbs = e.tb.stats();
            if (pr != 0 || tbs.reservedBytes() != 0) {
                holders.append(String.format(Locale.ROOT, "  held after close: %s %d B, %s %d B (%d allocations, %d "
                        + "frees)%n", e.pool, pr, e.tb, tbs.reservedBytes(), tbs.rawAllocations(), tbs.rawFrees()));
            }
        }
        System.out.printf(Locale.ROOT, "threads %d, %.1f s, %d operations (%.2f M/s), %d pool+TensorBuffer requests, "
                        + "%d cross-thread releases, %d TensorBuffer clears, %d epochs closed under load, %d takes "
                        + "refused by a closed epoch%n", threads, elapsed, ops.get(), ops.get() / elapsed / 1e6,
                requests, crossThreadReleases.get(), clears.get(), epochCloses.get(), refusedByClose.get());
        System.out.printf(Locale.ROOT, "errors %d, live bytes %d (pool) %d (TensorBuffer), device bytes after close "
                        + "%d in %d buffers, ownership entries left %d, leak reports %d%n", errors.size(), poolLive,
                tbLive, deviceBytes, deviceBuffers, owners.size(), leaks.size());
        System.out.print(holders);
        errors.stream().limit(20).forEach(e -> System.out.println("  error: " + e));
        leaks.stream().limit(5).forEach(l -> System.out.println("  leak: " + l.message()));
        boolean clean = errors.isEmpty() && poolLive == 0 && tbLive == 0 && deviceBytes == 0 && deviceBuffers == 0
                && owners.isEmpty() && leaks.isEmpty();
        System.out.println(clean ? "CLEAN" : "FAILED");
        return clean ? 0 : 1;
    }

    /** {@code [threads] [seconds]}. */
    public static void main(String[] args) throws InterruptedException {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 60;
        System.exit(new ReliabilityStress().run(threads, seconds));
    }
}
