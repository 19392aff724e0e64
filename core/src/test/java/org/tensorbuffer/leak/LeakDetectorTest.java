package org.tensorbuffer.leak;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.testing.TestDevice;

class LeakDetectorTest {
    private final List<LeakReport> reports = new CopyOnWriteArrayList<>();
    private final Consumer<LeakReport> listener = reports::add;
    private LeakDetector.Level saved;
    private int savedInterval;

    @BeforeEach
    void setUp() {
        saved = LeakDetector.level();
        savedInterval = LeakDetector.samplingInterval();
        LeakDetector.addListener(listener);
    }

    @AfterEach
    void tearDown() {
        LeakDetector.removeListener(listener);
        LeakDetector.level(saved);
        LeakDetector.samplingInterval(savedInterval);
    }

    /** Allocates a tensor and drops it unclosed; in its own method so no local variable keeps it reachable. */
    private static void leakOneTensor(TensorContext ctx) {
        Tensor t = ctx.zeros(Shape.of(123), DType.F32);
        assertThat(t.isClosed()).isFalse();
    }

    private List<LeakReport> reportsFor(String device) {
        return reports.stream().filter(r -> r.resource().contains(" on " + device)).toList();
    }

    private void awaitReports(String device, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (reportsFor(device).size() < n && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
    }

    @Test
    void paranoidReportsAnUnclosedTensorOnceWithItsAllocationSiteAndFreesItsMemory() throws Exception {
        LeakDetector.level(LeakDetector.Level.PARANOID);
        TestDevice device = new TestDevice("leakdev");
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE)) {
            leakOneTensor(ctx);
            assertThat(ctx.pool().stats().liveBytes()).isEqualTo(512);
            awaitReports("leakdev", 1);
            List<LeakReport> found = reportsFor("leakdev");
            assertThat(found).hasSize(1);
            LeakReport r = found.get(0);
            assertThat(r.kind()).isEqualTo(LeakReport.Kind.UNREACHABLE);
            assertThat(r.resource()).isEqualTo("Tensor[123] float32 on leakdev");
            assertThat(r.bytes()).isEqualTo(123 * 4);
            assertThat(r.count()).isEqualTo(1);
            StringWriter sw = new StringWriter();
            r.allocationSite().printStackTrace(new PrintWriter(sw));
            assertThat(sw.toString()).contains("LeakDetectorTest.leakOneTensor")
                    .contains("TensorContext.zeros");
            assertThat(r.message()).contains("garbage-collected without being closed").contains("Allocated at");
            assertThat(ctx.pool().stats().liveBytes()).as("the Cleaner gave the block back").isZero();
            // More GCs do not report it again.
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(20);
            }
            assertThat(reportsFor("leakdev")).hasSize(1);
        }
        assertThat(reportsFor("leakdev")).as("no outstanding blocks at close").hasSize(1);
        assertThat(device.usedBytes()).isZero();
    }

    @Test
    void closedTensorsAreNotReported() throws Exception {
        LeakDetector.level(LeakDetector.Level.PARANOID);
        TestDevice device = new TestDevice("cleandev");
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE)) {
            for (int i = 0; i < 100; i++) {
                ctx.zeros(Shape.of(8), DType.F32).close();
            }
            leakOneTensor(ctx);
            awaitReports("cleandev", 1);
            Thread.sleep(50);
            assertThat(reportsFor("cleandev")).hasSize(1);
        }
    }

    @Test
    void levelsDecideWhatIsTracked() {
        TestDevice device = new TestDevice("leveldev");
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE)) {
            LeakDetector.level(LeakDetector.Level.DISABLED);
            long before = LeakDetector.trackedCount();
            for (int i = 0; i < 200; i++) {
                ctx.zeros(Shape.of(1), DType.F32).close();
            }
            assertThat(LeakDetector.trackedCount()).isEqualTo(before);

            LeakDetector.level(LeakDetector.Level.SAMPLED);
            LeakDetector.samplingInterval(1); // every allocation sampled
            before = LeakDetector.trackedCount();
            for (int i = 0; i < 200; i++) {
                ctx.zeros(Shape.of(1), DType.F32).close();
            }
            assertThat(LeakDetector.trackedCount() - before).isEqualTo(200);

            LeakDetector.samplingInterval(128);
            before = LeakDetector.trackedCount();
            for (int i = 0; i < 12_800; i++) {
                ctx.zeros(Shape.of(1), DType.F32).close();
            }
            // Binomial(12800, 1/128): mean 100, sd ~10; 40..160 fails with probability < 1e-8.
            assertThat(LeakDetector.trackedCount() - before).isBetween(40L, 160L);
        }
    }

    @Test
    void badSettingsAreRefused() {
        assertThatThrownBy(() -> LeakDetector.Level.parse("loud")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown leak detection level 'loud' (expected disabled, sampled or paranoid)");
        assertThat(LeakDetector.Level.parse(" Paranoid ")).isEqualTo(LeakDetector.Level.PARANOID);
        assertThatThrownBy(() -> LeakDetector.samplingInterval(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sampling interval 0 must be at least 1");
    }
}
