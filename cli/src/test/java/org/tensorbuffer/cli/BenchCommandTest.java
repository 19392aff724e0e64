package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.bench.JmhResults;
import org.tensorbuffer.bench.RunInfo;

/** Smoke test: the bench command runs one tiny JMH benchmark in this JVM and writes results and a report. */
class BenchCommandTest {
    @Test
    void quickRunOfOneBenchmarkWritesJsonMetaAndHtml(@TempDir Path dir) throws Exception {
        // JMH refuses to start while another JMH run holds its lock file (e.g. a developer's `bench` on this machine).
        System.setProperty("jmh.ignoreLock", "true");
        Path json = dir.resolve("jmh.json");
        Path html = dir.resolve("report.html");
        int rc = Main.run("bench", "--quick", "--forks", "0", "-i", "AllocationBenchmark.bufferPool$",
                "-p", "size=4096", "-t", "1", "-o", json.toString(), "--html", html.toString());
        assertThat(rc).isZero();
        JmhResults r = JmhResults.read(json);
        assertThat(r.results()).hasSize(1);
        JmhResults.Entry e = r.results().get(0);
        assertThat(e.benchmark()).isEqualTo("AllocationBenchmark.bufferPool");
        assertThat(e.param("size")).isEqualTo("4096");
        assertThat(e.score()).isPositive();
        assertThat(e.cpuPerOp()).isPositive();
        assertThat(e.allocPerOp()).isNotNaN();
        RunInfo info = RunInfo.read(RunInfo.sideFile(json));
        assertThat(info.commands()).singleElement().asString()
                .startsWith("./tensorbuffer bench --quick --forks 0 -i 'AllocationBenchmark.bufferPool$'");
        assertThat(info.jdk()).contains(System.getProperty("java.runtime.version"));
        assertThat(Files.readString(html)).contains("AllocationBenchmark.bufferPool").contains("<svg");
    }
}
