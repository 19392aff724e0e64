package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.bench.SizeProfiles;
import org.xml.sax.InputSource;

/** {@code compare --html}: the report of a short real comparison, with a JMH results file beside it. */
class CompareHtmlTest {
    @Test
    void reportChartsTheComparisonAndIncludesJmhResults(@TempDir Path dir) throws Exception {
        Path jmh = dir.resolve("jmh.json");
        Files.writeString(jmh, """
                [ { "benchmark" : "org.tensorbuffer.bench.AllocationBenchmark.bufferPool", "mode" : "avgt",
                    "threads" : 1, "params" : { "size" : "64" },
                    "primaryMetric" : { "score" : 14.0, "scoreError" : 1.0, "scoreUnit" : "ns/op" },
                    "secondaryMetrics" : { } } ]
                """);
        Path html = dir.resolve("report.html");
        CliRun r = CliRun.of("compare", "--steps", "16", "--runs", "1", "--warmup", "0", "--quiet", "--html",
                html.toString(), "--jmh", jmh.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        String page = Files.readString(html);
        assertThat(page).contains("Tokens per second", "Device allocations per token after the first",
                "Hit rates after the first token", "Peak live vs reserved bytes",
                "First step: device allocations and decoding-thread CPU ms", "reserved / lower bound",
                "BufferPool requests by size class", "tensornetwork_permutation_light_415",
                "JMH allocation benchmarks", "AllocationBenchmark.bufferPool")
                .contains("<code>./tensorbuffer compare --steps 16 --runs 1 --warmup 0 --quiet --html ");
        // Without a pool, every activation of a step is a device allocation: the 63 of one forward step.
        assertThat(SizeProfiles.shapes("decode260K")).hasSize(63);
        assertThat(page).contains("<title>device allocations / token, none: 63.00</title>")
                .contains("<title>device allocations / token, proactive: 0.00</title>")
                .contains("<title>BufferPool hit rate, reactive: 100.0</title>")
                // proactive reserved from a step recorded on meta: no device allocation in the first step
                .contains("<title>device allocations in the first step, proactive: 0.00</title>");
        Matcher m = Pattern.compile("<svg.*?</svg>", Pattern.DOTALL).matcher(page);
        int charts = 0;
        while (m.find()) {
            DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new InputSource(new java.io.StringReader(m.group())));
            charts++;
        }
        assertThat(charts).isEqualTo(8); // 5 strategy charts, 2 histograms, 1 JMH chart
        assertThat(PageChecks.reportCharts(page)).isEqualTo(8);
        // the page names the model and the command, and says what live means (weights included, as everywhere)
        assertThat(page).contains("Decode: stories260K.bin per strategy")
                .contains("Live: bytes in use by tensors (weights included)");
    }
}
