package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.leak.LeakReport;
import org.tensorbuffer.testing.TestDevice;

class CloseReportTest {
    private final List<LeakReport> reports = new CopyOnWriteArrayList<>();
    private final Consumer<LeakReport> listener = reports::add;

    @BeforeEach
    void setUp() {
        LeakDetector.addListener(listener);
    }

    @AfterEach
    void tearDown() {
        LeakDetector.removeListener(listener);
    }

    @Test
    void poolCloseReportsOutstandingBlocksAndFreesThemWhenReleased() {
        TestDevice dev = new TestDevice("closedev");
        BufferPool pool = BufferPool.builder(dev).name("p1").build();
        Block a = pool.take(100);   // 128 B class
        Block b = pool.take(1000);  // 1024 B class
        pool.take(64).release();    // cached, not outstanding
        assertThat(pool.outstandingBlocks()).containsExactlyInAnyOrder(a, b);
        pool.close();
        assertThat(reports).hasSize(1);
        LeakReport r = reports.get(0);
        assertThat(r.kind()).isEqualTo(LeakReport.Kind.OUTSTANDING_AT_CLOSE);
        assertThat(r.resource()).isEqualTo("BufferPool[closedev/p1]");
        assertThat(r.count()).isEqualTo(2);
        assertThat(r.bytes()).isEqualTo(128 + 1024);
        assertThat(r.message()).isEqualTo("BufferPool[closedev/p1] closed with 2 buffer(s) (1152 bytes) still live: "
                + "memory leaked");
        assertThat(dev.usedBytes()).isEqualTo(1152);
        a.release();
        b.release();
        assertThat(dev.usedBytes()).isZero();
    }

    @Test
    void cleanPoolCloseReportsNothing() {
        TestDevice dev = new TestDevice("cleanclose");
        BufferPool pool = BufferPool.of(dev);
        pool.take(10).release();
        pool.close();
        assertThat(reports).isEmpty();
        assertThat(dev.usedBytes()).isZero();
    }

    @Test
    void tensorBufferCloseReportsTakenReservationsAndRetainedWeights() {
        TestDevice dev = new TestDevice("tbclose");
        BufferPool pool = BufferPool.of(dev);
        TensorBuffer tb = new TensorBuffer(pool, "tb1");
        tb.reserve(Shape.of(10), DType.F32, 2);
        Block taken = tb.take(Shape.of(10), DType.F32);
        Block weight = tb.reserveLearnable("w", Shape.of(4, 4), DType.F32).retain(); // a tensor holds the weight
        tb.close();
        assertThat(reports).hasSize(1);
        LeakReport r = reports.get(0);
        assertThat(r.resource()).isEqualTo("TensorBuffer[tbclose/tb1]");
        assertThat(r.count()).isEqualTo(2);
        assertThat(r.bytes()).isEqualTo(40 + 64);
        taken.release();
        weight.release();
        pool.close();
        assertThat(dev.usedBytes()).isZero();
        assertThat(reports).hasSize(1);
    }
}
