package org.tensorbuffer.memory;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * {@link TensorBuffer#clear()} on one thread racing with another thread's magazine traffic: it takes a reserved block,
 * releases it into its magazine, takes it again (a lock-free hit, unless the clear came first) and releases it. The
 * clear must free the block wherever it is (in the depot, in the other thread's magazine, or on its way back) exactly
 * once, and the taking thread must never be handed a block the clear freed.
 */
@JCStressTest
@Description("TensorBuffer magazine take/release vs clear")
@Outcome(id = "2, 1, 0, 0", expect = ACCEPTABLE, desc = "both takes hit; each block freed once")
@Outcome(id = "1, 1, 0, 0", expect = ACCEPTABLE, desc = "one hit before the clear, one pool fallback")
@Outcome(id = "0, 1, 0, 0", expect = ACCEPTABLE, desc = "the clear came first: both from the pool")
@Outcome(expect = FORBIDDEN, desc = "a block handed out over freed memory, reserved bytes left after the clear, or "
        + "device buffers left after close")
@State
public class TensorBufferReleaseVsClearTest {
    private final ReservedTensorBuffer s = new ReservedTensorBuffer();

    @Actor
    public void cycle(IIII_Result r) {
        s.takeReleaseTwice(r);
    }

    @Actor
    public void clear() {
        s.tb.clear();
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        r.r3 = s.reservedBytes();
        r.r4 = s.closeAndCountLive();
    }
}
