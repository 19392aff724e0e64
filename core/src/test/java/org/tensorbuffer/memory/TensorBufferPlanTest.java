package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** Recording a step into a {@link ReservationPlan}, reserving it, saving and loading it, and the learning policy. */
class TensorBufferPlanTest {
    private final TestDevice device = new TestDevice("plans");
    private final BufferPool pool = BufferPool.of(device);
    private final TensorBuffer tb = new TensorBuffer(pool, "plans");
    private final Shape a = Shape.of(4, 8);
    private final Shape b = Shape.of(100);

    /** A step: x(a), y(a) live together, then z(b); y and z escape the step until its end. */
    private void step(TensorBuffer t) {
        Block x = t.take(a, DType.F32);
        Block y = t.take(a, DType.F32);
        x.close();
        Block z = t.take(b, DType.F64);
        Block w = t.take(a, DType.F32);
        w.close();
        y.close();
        z.close();
    }

    @Test
    void recordCountsThePeakOfLiveBuffersPerKey() {
        ReservationPlan plan = tb.record(() -> step(tb));
        assertThat(plan.entries()).containsExactly(
                new ReservationPlan.Entry(a, DType.F32, 2),
                new ReservationPlan.Entry(b, DType.F64, 1));
        assertThat(plan.totalBytes()).isEqualTo(2 * 128 + 800);
        assertThat(plan.toString()).contains("[4, 8]", "float32", "float64", "total").contains("1,056");
        // nothing was reserved by recording; the step's takes missed and went back to the pool
        assertThat(tb.stats().reservedBlocks()).isZero();
        long before = tb.stats().requests();
        tb.reserve(plan);
        assertThat(tb.stats().rawAllocations()).isEqualTo(3);
        step(tb);
        TensorBufferStats st = tb.stats();
        assertThat(st.requests() - before).isEqualTo(4);
        assertThat(st.misses()).isEqualTo(4); // only the recorded step's own takes
    }

    @Test
    void reservingAPlanTwiceReservesOnce() {
        ReservationPlan plan = tb.record(() -> step(tb));
        assertThat(tb.reserve(plan)).isEqualTo(3);
        assertThat(tb.reserve(plan)).isZero();
        assertThat(tb.stats().reservedBlocks()).isEqualTo(3);
    }

    @Test
    void saveAndLoadRoundTrip(@TempDir Path dir) throws Exception {
        ReservationPlan plan = new ReservationPlan(List.of(new ReservationPlan.Entry(a, DType.F32, 2),
                new ReservationPlan.Entry(Shape.scalar(), DType.I64, 1), new ReservationPlan.Entry(b, DType.F64, 7)));
        Path f = dir.resolve("plan.txt");
        plan.save(f);
        assertThat(Files.readString(f)).contains("float32 [4,8] 2").contains("int64 [] 1");
        assertThat(ReservationPlan.load(f)).isEqualTo(plan);
    }

    @Test
    void loadNamesFileAndLineOfABadEntry(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.txt");
        Files.writeString(f, "# comment\nfloat32 [4,8] 2\nfloat99 [4] 1\n");
        assertThatThrownBy(() -> ReservationPlan.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad.txt line 3").hasMessageContaining("float99");
        Files.writeString(f, "float32 [4,8] 0\n");
        assertThatThrownBy(() -> ReservationPlan.load(f)).hasMessageContaining("line 1")
                .hasMessageContaining("not positive");
    }

    @Test
    void learningReservesThePeakOfConcurrentMissesAfterNSteps() {
        assertThat(tb.learningEnabled()).isFalse();
        tb.enableLearning(2);
        for (int i = 0; i < 2; i++) {
            List<Block> live = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                live.add(tb.take(a, DType.F32)); // 3 live at once
            }
            live.forEach(Block::close);
            tb.take(a, DType.F32).close(); // 1 more, not concurrent with the others
            ReservationPlan learned = tb.endStep();
            if (i == 0) {
                assertThat(learned.size()).isZero();
            } else {
                assertThat(learned.entries()).containsExactly(new ReservationPlan.Entry(a, DType.F32, 3));
            }
        }
        assertThat(tb.stats().reservedBlocks()).isEqualTo(3);
        long misses = tb.stats().misses();
        List<Block> live = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            live.add(tb.take(a, DType.F32));
        }
        live.forEach(Block::close);
        assertThat(tb.stats().misses()).isEqualTo(misses);
    }

    @Test
    void learningIsOffByDefaultAndEndStepThenDoesNothing() {
        tb.take(a, DType.F32).close();
        assertThat(tb.endStep().size()).isZero();
        assertThat(tb.endStep().size()).isZero();
        assertThat(tb.stats().reservedBlocks()).isZero();
        assertThatThrownBy(() -> tb.enableLearning(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void twoThreadsOnOneKeyBothHitWithEnoughReserved() throws Exception {
        tb.reserve(a, DType.F32, 4);
        Runnable work = () -> {
            for (int i = 0; i < 10_000; i++) {
                tb.take(a, DType.F32).close();
            }
        };
        Thread t1 = Thread.ofPlatform().start(work);
        Thread t2 = Thread.ofPlatform().start(work);
        t1.join();
        t2.join();
        TensorBufferStats st = tb.stats();
        assertThat(st.requests()).isEqualTo(20_000);
        assertThat(st.misses()).isZero();
        assertThat(st.liveBytes()).isZero();
        assertThat(st.peakLiveBytes()).isBetween(128L, 2 * 128L);
        tb.close();
        pool.close();
        // both threads have ended: their magazines were freed at close
        assertThat(device.liveBuffers()).isZero();
    }
}
