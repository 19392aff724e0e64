package org.tensorbuffer.memory;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;
import org.tensorbuffer.types.DType;

/**
 * A reserved block taken by the thread that builds the state and released by an actor (usually another thread, so
 * the depot path; jcstress decides), racing with {@link TensorBuffer#clear()}: the block is freed once (the device
 * throws on a second free) and the reservation is gone afterwards.
 */
@JCStressTest
@Description("TensorBuffer cross-thread release vs clear")
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "freed by the clear or by the release; nothing left")
@Outcome(expect = FORBIDDEN, desc = "reserved bytes or device buffers left")
@State
public class TensorBufferRemoteReleaseVsClearTest {
    private final ReservedTensorBuffer s = new ReservedTensorBuffer();
    private final Block taken = s.tb.take(ReservedTensorBuffer.SHAPE, DType.F32);

    @Actor
    public void release() {
        taken.release();
    }

    @Actor
    public void clear() {
        s.tb.clear();
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r1 = s.reservedBytes();
        r.r2 = s.closeAndCountLive();
    }
}
