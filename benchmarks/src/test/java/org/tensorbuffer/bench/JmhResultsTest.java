package org.tensorbuffer.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonParser;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JmhResultsTest {
    /** Two entries as JMH 1.37 writes them with -prof gc and the CPU-time profiler (trimmed to the fields read). */
    static final String SAMPLE = """
            [ {
                "jmhVersion" : "1.37", "benchmark" : "org.tensorbuffer.bench.AllocationBenchmark.bufferPool",
                "mode" : "avgt", "threads" : 1, "forks" : 1,
                "params" : { "size" : "64" },
                "primaryMetric" : { "score" : 12.5, "scoreError" : 0.75, "scoreUnit" : "ns/op" },
                "secondaryMetrics" : {
                    "gc.alloc.rate.norm" : { "score" : 0.0012, "scoreError" : "NaN", "scoreUnit" : "B/op" },
                    "cpu.time.norm" : { "score" : 11.0, "scoreError" : 0.5, "scoreUnit" : "ns/op" } }
              }, {
                "jmhVersion" : "1.37", "benchmark" : "org.tensorbuffer.bench.AllocationBenchmark.mallocFree",
                "mode" : "avgt", "threads" : 4, "forks" : 1,
                "params" : { "size" : "4096" },
                "primaryMetric" : { "score" : 80.0, "scoreError" : "NaN", "scoreUnit" : "ns/op" },
                "secondaryMetrics" : { }
              } ]
            """;

    static JmhResults sample() {
        return JmhResults.parse(JsonParser.parseString(SAMPLE).getAsJsonArray());
    }

    @Test
    void parsesScoresParamsAndProfilerFigures() {
        JmhResults r = sample();
        assertThat(r.results()).hasSize(2);
        JmhResults.Entry pool = r.results().get(0);
        assertThat(pool.benchmark()).isEqualTo("AllocationBenchmark.bufferPool");
        assertThat(pool.className()).isEqualTo("AllocationBenchmark");
        assertThat(pool.method()).isEqualTo("bufferPool");
        assertThat(pool.threads()).isEqualTo(1);
        assertThat(pool.param("size")).isEqualTo("64");
        assertThat(pool.score()).isEqualTo(12.5);
        assertThat(pool.error()).isEqualTo(0.75);
        assertThat(pool.allocPerOp()).isCloseTo(0.0012, within(1e-12));
        assertThat(pool.cpuPerOp()).isEqualTo(11.0);
        JmhResults.Entry malloc = r.results().get(1);
        assertThat(malloc.error()).isNaN();
        assertThat(malloc.allocPerOp()).isNaN();
        assertThat(malloc.cpuPerOp()).isNaN();
    }

    @Test
    void findMatchesBenchmarkThreadsAndParams() {
        JmhResults r = sample();
        assertThat(r.find("AllocationBenchmark.mallocFree", 4, Map.of("size", "4096"))).isPresent();
        assertThat(r.find("AllocationBenchmark.mallocFree", 1, Map.of("size", "4096"))).isEmpty();
        assertThat(r.find("AllocationBenchmark.mallocFree", 4, Map.of("size", "64"))).isEmpty();
        assertThat(r.byClass()).containsOnlyKeys("AllocationBenchmark");
    }
}
