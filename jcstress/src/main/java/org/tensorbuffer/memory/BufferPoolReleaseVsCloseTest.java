package org.tensorbuffer.memory;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * {@link BufferPool#close()} racing with a thread that takes from and releases into its own thread cache (the
 * lock-free path: the second take and release of the class hit the cache). Whatever the interleaving, the thread is
 * never handed freed memory, no block is freed twice (the device throws) and the device holds nothing afterwards.
 */
@JCStressTest
@Description("BufferPool thread-cache take/release vs close")
@Outcome(id = "2, 1, 0", expect = ACCEPTABLE, desc = "both cycles before or during close; every block freed")
@Outcome(id = "1, 1, 0", expect = ACCEPTABLE, desc = "the second take refused: the pool is closed")
@Outcome(id = "0, 1, 0", expect = ACCEPTABLE, desc = "the first take refused: the pool is closed")
@Outcome(expect = FORBIDDEN, desc = "a block handed out over freed memory, or left on the device")
@State
public class BufferPoolReleaseVsCloseTest {
    private final CountingDevice device = new CountingDevice();
    private final BufferPool pool = BufferPool.builder(device).name("jcstress").build();

    @Actor
    public void cycle(III_Result r) {
        int cycles = 0;
        boolean liveWhileHeld = true;
        try {
            for (int i = 0; i < 2; i++) {
                Block b = pool.take(256);
                liveWhileHeld &= device.isLive(b.buffer().address());
                b.release();
                cycles++;
            }
        } catch (IllegalStateException e) {
            if (!String.valueOf(e.getMessage()).endsWith("is closed")) {
                throw e;
            }
        }
        r.r1 = cycles;
        r.r2 = liveWhileHeld ? 1 : 0;
    }

    @Actor
    public void close() {
        pool.close();
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r3 = device.liveBuffers();
    }
}
