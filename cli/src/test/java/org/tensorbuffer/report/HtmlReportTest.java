package org.tensorbuffer.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.bench.JmhResults;
import org.tensorbuffer.bench.RunInfo;

class HtmlReportTest {
    @Test
    void pageStatesTheRunAndHoldsWellFormedChartsOfTheJmhResults(@TempDir Path dir) throws Exception {
        List<JmhResults.Entry> entries = new java.util.ArrayList<>();
        for (String m : List.of("bufferPool", "mallocFree")) {
            for (int t : List.of(1, 4)) {
                entries.add(new JmhResults.Entry("AllocationBenchmark." + m, "avgt", t,
                        java.util.Map.of("size", "64"), m.equals("bufferPool") ? 10 * t : 50, 1, "ns/op", 0.0,
                        m.equals("bufferPool") ? 9 : 45));
            }
        }
        RunInfo info = new RunInfo("Linux amd64, 2 CPUs", "Temurin 25", "2026-11-27T17:00Z", "abc123",
                List.of("./tensorbuffer bench --quick -i 'A|B'"));
        Path file = dir.resolve("sub/report.html");
        HtmlReport.builder(info).jmh(new JmhResults(entries)).build().write(file);
        String html = Files.readString(file);
        assertThat(html).startsWith("<!DOCTYPE html>")
                .contains("Linux amd64, 2 CPUs", "Temurin 25", "2026-11-27T17:00Z", "abc123")
                .contains("<code>./tensorbuffer bench --quick -i 'A|B'</code>")
                .contains("JMH allocation benchmarks", "Targets", "All JMH results")
                .doesNotContain("<script", "src=", "<link", "href=\"http");
        Matcher m = Pattern.compile("<svg.*?</svg>", Pattern.DOTALL).matcher(html);
        int charts = 0;
        while (m.find()) {
            BarChartTest.parse(m.group()); // each chart is well-formed XML
            charts++;
        }
        assertThat(charts).isEqualTo(3); // 1 thread, 4 threads, thread scaling (no size-distribution results)
        // pool 9 ns CPU <= 20: met; malloc 45 / 9 = 5x: met
        assertThat(html).contains("<td class=\"met\">MET</td><td>pool take+close 64 B, 1 thread</td>");
        assertThat(html).contains("<td>malloc+free / pool 64 B, 1 thread</td><td>CPU 5.00x (wall 5.00x)</td>");
    }
}
