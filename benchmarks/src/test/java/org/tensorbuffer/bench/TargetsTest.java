package org.tensorbuffer.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TargetsTest {
    private static JmhResults.Entry e(String method, int threads, double wall, double cpu, double heap) {
        return new JmhResults.Entry("AllocationBenchmark." + method, "avgt", threads, Map.of("size", "64"), wall,
                Double.NaN, "ns/op", heap, cpu);
    }

    private static Targets.Line line(List<Targets.Line> lines, String target) {
        return lines.stream().filter(l -> l.target().equals(target)).findFirst().orElseThrow();
    }

    @Test
    void judgesOnCpuTimeAndShowsWallClockBeside() {
        JmhResults r = new JmhResults(List.of(
                e("bufferPool", 1, 40, 8, 0.001),
                e("mallocFree", 1, 120, 48, 0.0),
                e("mallocFreeCritical", 1, 60, 30, 0.0),
                e("bufferPool", 4, 170, 17, 0.002),
                e("tensorBuffer", 1, 100, 50, 0.0),
                e("tensorBuffer", 4, 900, 120, 24.0)));
        List<Targets.Line> lines = Targets.evaluate(r);
        Targets.Line hit = line(lines, "pool take+close 64 B, 1 thread");
        assertThat(hit.met()).isTrue(); // CPU 8 ns <= 20 although the wall clock says 40
        assertThat(hit.value()).contains("CPU 8.00 ns").contains("wall 40.0 ns");
        Targets.Line malloc = line(lines, "malloc+free / pool 64 B, 1 thread");
        assertThat(malloc.met()).isTrue(); // 48 / 8 = 6x
        assertThat(malloc.value()).startsWith("CPU 6.00x").contains("wall 3.00x");
        assertThat(line(lines, "malloc+free (critical downcalls) / pool 64 B, 1 thread").met()).isFalse(); // 3.75x
        assertThat(line(lines, "bufferPool 4 threads / 1 thread 64 B").met()).isFalse(); // 17 / 8 = 2.125x
        assertThat(line(lines, "tensorBuffer 4 threads / 1 thread 64 B").value()).startsWith("CPU 2.40x");
        assertThat(line(lines, "bufferPool heap 64 B, 4 threads").met()).isTrue();
        assertThat(line(lines, "tensorBuffer heap 64 B, 4 threads").met()).isFalse(); // 24 B/op is an allocation
    }

    @Test
    void fallsBackToWallClockWithoutTheCpuProfilerAndSkipsMissingInputs() {
        JmhResults r = new JmhResults(List.of(e("bufferPool", 1, 25, Double.NaN, Double.NaN)));
        List<Targets.Line> lines = Targets.evaluate(r);
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0).met()).isFalse();
        assertThat(lines.get(0).value()).isEqualTo("wall 25.0 ns");
    }
}
