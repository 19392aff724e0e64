package org.tensorbuffer.report;

import static org.tensorbuffer.report.BarChart.esc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.tensorbuffer.bench.Format;
import org.tensorbuffer.bench.JmhResults;
import org.tensorbuffer.bench.RunInfo;
import org.tensorbuffer.bench.Targets;

/**
 * A self-contained HTML benchmark report: one page, inline CSS and inline SVG charts ({@link BarChart}), no scripts
 * and nothing fetched, stating the machine, JDK, date, commit and the exact commands that produced the figures.
 *
 * <p>Sections are added in order: the {@code compare} command adds its strategy charts (tokens/s, allocations per
 * token, hit rates, peak live vs reserved bytes, einsum times, size histograms), and {@link Builder#jmh} adds the JMH
 * results (allocation ns/op per size and allocator, thread scaling, heap bytes per op, the targets, all entries).
 * Not thread-safe (a builder, then an immutable page).
 */
public final class HtmlReport {
    private final String html;

    private HtmlReport(String html) {
        this.html = html;
    }

    /** A builder for a report of a run described by {@code info}. */
    public static Builder builder(RunInfo info) {
        return new Builder(info);
    }

    /** The page. */
    public String html() {
        return html;
    }

    /** Writes the page (creating parent directories). */
    public void write(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(file, html);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write report " + file + ": " + e.getMessage(), e);
        }
    }

    /** Builds the page section by section. */
    public static final class Builder {
        private final RunInfo info;
        private final List<RunInfo> extraRuns = new ArrayList<>();
        private String title = "TensorBuffer benchmark report";
        private final StringBuilder body = new StringBuilder();
        private final List<String> toc = new ArrayList<>();

        private Builder(RunInfo info) {
            this.info = info;
        }

        /** The page title. */
        public Builder title(String title) {
            this.title = title;
            return this;
        }

        /** Starts a section with a heading (and a table-of-contents entry). */
        public Builder section(String heading) {
            toc.add(heading);
            body.append("<h2 id=\"s").append(toc.size()).append("\">").append(esc(heading)).append("</h2>\n");
            return this;
        }

        /** A paragraph of text (escaped). */
        public Builder paragraph(String text) {
            body.append("<p>").append(esc(text)).append("</p>\n");
            return this;
        }

        /** A chart, with a caption below it (escaped); an empty chart is skipped. */
        public Builder chart(BarChart chart, String caption) {
            if (!chart.isEmpty()) {
                body.append("<figure>").append(chart.svg());
                if (caption != null && !caption.isEmpty()) {
                    body.append("<figcaption>").append(esc(caption)).append("</figcaption>");
                }
                body.append("</figure>\n");
            }
            return this;
        }

        /** A table: a header row and data rows (cells escaped; cells that look numeric are right-aligned). */
        public Builder table(List<String> header, List<List<String>> rows) {
            body.append("<table><thead><tr>");
            header.forEach(h -> body.append("<th>").append(esc(h)).append("</th>"));
            body.append("</tr></thead><tbody>\n");
            for (List<String> r : rows) {
                body.append("<tr>");
                for (String c : r) {
                    boolean num = c.matches("[-+]?[0-9.,]+(\\s?\\S{0,6})?(\\s.*)?") && !c.isEmpty();
                    String cls = c.startsWith("MET") ? " class=\"met\"" : c.startsWith("MISS") ? " class=\"miss\""
                            : num ? " class=\"num\"" : "";
                    body.append("<td").append(cls).append('>').append(esc(c)).append("</td>");
                }
                body.append("</tr>\n");
            }
            body.append("</tbody></table>\n");
            return this;
        }

        /** Adds the run facts of another results file (e.g. the JMH run when the page is a compare report). */
        public Builder alsoRun(RunInfo other) {
            if (other != null) {
                extraRuns.add(other);
            }
            return this;
        }

        /** The JMH section: charts and tables of {@code results} ({@code run}: the JMH run's facts, if known). */
        public Builder jmh(JmhResults results) {
            JmhSection.add(this, results);
            return this;
        }

        /** The page. */
        public HtmlReport build() {
            StringBuilder h = new StringBuilder();
            h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>").append(esc(title))
                    .append("</title>\n<style>\n").append(CSS).append("</style></head><body>\n");
            h.append("<h1>").append(esc(title)).append("</h1>\n");
            h.append("<table class=\"facts\">");
            facts(h, info, "");
            for (RunInfo r : extraRuns) {
                facts(h, r, " (JMH run)");
            }
            h.append("</table>\n");
            if (!toc.isEmpty()) {
                h.append("<nav><b>Contents</b><ol>");
                for (int i = 0; i < toc.size(); i++) {
                    h.append("<li><a href=\"#s").append(i + 1).append("\">").append(esc(toc.get(i)))
                            .append("</a></li>");
                }
                h.append("</ol></nav>\n");
            }
            h.append(body);
            h.append("<footer>Generated by tensorbuffer; charts are inline SVG. Every comparison on this page is "
                    + "between figures measured in the same run on the same machine.</footer>\n</body></html>\n");
            return new HtmlReport(h.toString());
        }

        private static void facts(StringBuilder h, RunInfo r, String suffix) {
            row(h, "Machine" + suffix, r.machine());
            row(h, "JDK" + suffix, r.jdk());
            row(h, "Date" + suffix, r.date());
            row(h, "Commit" + suffix, r.commit());
            StringBuilder cmds = new StringBuilder();
            for (String c : r.commands()) {
                cmds.append("<code>").append(esc(c)).append("</code><br>");
            }
            h.append("<tr><th>Command").append(r.commands().size() == 1 ? "" : "s").append(esc(suffix))
                    .append("</th><td>").append(cmds).append("</td></tr>");
        }

        private static void row(StringBuilder h, String k, String v) {
            h.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v)).append("</td></tr>");
        }
    }

    private static final String CSS = """
            body{font-family:sans-serif;max-width:1040px;margin:24px auto;padding:0 16px;color:#222;line-height:1.4}
            h1{font-size:26px;margin-bottom:8px} h2{font-size:20px;margin-top:36px;border-bottom:1px solid #ccc}
            table{border-collapse:collapse;margin:12px 0;font-size:13px}
            th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
            th{background:#f2f2f2} td.num{text-align:right;font-variant-numeric:tabular-nums}
            td.met{color:#066;font-weight:bold} td.miss{color:#b00;font-weight:bold}
            table.facts th{width:140px} code{font-size:12px}
            figure{margin:16px 0} figcaption{font-size:13px;color:#555;margin-top:4px}
            nav ol{margin:4px 0 0 0} footer{margin-top:40px;font-size:12px;color:#777}
            """;

    /** Lays out the JMH results. */
    static final class JmhSection {
        private static final List<String> SIZES = List.of("64", "4096", "262144", "16777216");
        private static final List<String> ALLOC_METHODS = List.of("rawDevice", "bufferPool", "tensorBuffer",
                "mallocFree", "mallocFreeCritical", "arenaConfined", "arenaShared", "allocateDirect");

        private JmhSection() {
        }

        static void add(Builder b, JmhResults r) {
            b.section("JMH allocation benchmarks");
            boolean cpu = r.results().stream().anyMatch(e -> !Double.isNaN(e.cpuPerOp()));
            String unit = cpu ? "CPU ns/op" : "ns/op";
            b.paragraph("One allocate + free per operation. Charts show " + (cpu ? "CPU time per operation (process "
                    + "CPU time of the benchmark JVM / operations of all threads: the cost of the operation, without "
                    + "the time a thread waits for a core on a busy machine); JMH's wall-clock average time per "
                    + "operation of each thread is in the table at the end" : "JMH's average time per operation of "
                    + "each thread") + ". Heap bytes per operation from -prof gc (gc.alloc.rate.norm). The pool and TensorBuffer "
                    + "benchmarks measure the hit path (blocks come back to the same thread cache or reserved slot); "
                    + "rawDevice (CpuDevice: posix_memalign/free plus its double-free bookkeeping), mallocFree (ordinary "
                    + "FFM downcalls), mallocFreeCritical (critical downcalls), the arenas (zeroed memory) and "
                    + "allocateDirect (zeroed, freed by the GC) are the references without caching.");
            Set<Integer> threads = new LinkedHashSet<>();
            r.results().stream().map(JmhResults.Entry::threads).sorted().forEach(threads::add);
            String cls = "AllocationBenchmark.";
            for (int t : threads) {
                BarChart c = BarChart.titled("Allocate + free, " + t + " thread" + (t > 1 ? "s" : "") + " (" + unit + ")")
                        .categories(SIZES.stream().map(s -> Format.bytes(Long.parseLong(s))).toList())
                        .axis(unit).log(true).format(HtmlReport::shortNs);
                for (String m : ALLOC_METHODS) {
                    double[] v = new double[SIZES.size()];
                    for (int i = 0; i < SIZES.size(); i++) {
                        v[i] = r.find(cls + m, t, Map.of("size", SIZES.get(i))).map(Targets::cost)
                                .orElse(Double.NaN);
                    }
                    c.series(m, v);
                }
                b.chart(c, "Lower is better. Log scale: each grid line is 10x.");
            }
            if (threads.size() > 1) {
                List<String> methods = List.of("bufferPool", "tensorBuffer", "mallocFree", "rawDevice");
                BarChart c = BarChart.titled("Thread scaling at 64 B (" + unit + ")")
                        .categories(methods).axis(unit).log(true).format(HtmlReport::shortNs);
                for (int t : threads) {
                    double[] v = new double[methods.size()];
                    for (int i = 0; i < methods.size(); i++) {
                        v[i] = r.find(cls + methods.get(i), t, Map.of("size", "64")).map(Targets::cost)
                                .orElse(Double.NaN);
                    }
                    c.series(t + " thread" + (t > 1 ? "s" : ""), v);
                }
                b.chart(c, cpu ? "CPU cost per operation with 1, 2 and 4 threads sharing one pool (flat = scales; "
                        + "the target is 4 threads <= 2x 1 thread)." : "Average time per operation seen by each "
                        + "thread; with more threads than cores it includes waiting for a core.");
            }
            String dist = "SizeDistributionBenchmark.";
            for (int t : threads) {
                List<String> profiles = List.of("tn415", "decode260K");
                BarChart c = BarChart.titled("Sizes drawn from real workloads, " + t + " thread" + (t > 1 ? "s" : "")
                        + " (" + unit + ", one free + one allocate)").categories(profiles).axis(unit).log(true)
                        .format(HtmlReport::shortNs);
                for (String m : List.of("rawDevice", "bufferPool", "tensorBuffer", "mallocFree")) {
                    double[] v = new double[profiles.size()];
                    for (int i = 0; i < profiles.size(); i++) {
                        v[i] = r.find(dist + m, t, Map.of("profile", profiles.get(i))).map(Targets::cost)
                                .orElse(Double.NaN);
                    }
                    c.series(m, v);
                }
                b.chart(c, "tn415: sizes of the 414 einsum intermediates of tensornetwork_permutation_light_415 (8 B "
                        + "to 128 MiB, median 32 B); decode260K: one decode step of stories260K. Each thread keeps its "
                        + "last 16 allocations alive.");
            }
            List<String> strategies = List.of("none", "reactive", "proactive", "planned");
            BarChart dec = BarChart.titled("One decode token of stories260K per strategy (" + (cpu ? "CPU " : "")
                    + "us/token)").categories(strategies).axis((cpu ? "CPU " : "") + "us/token")
                    .format(v -> String.format(Locale.ROOT, "%.1f", v));
            for (int t : threads) {
                double[] v = new double[strategies.size()];
                for (int i = 0; i < strategies.size(); i++) {
                    v[i] = r.find("DecodeBenchmark.decodeToken", t, Map.of("strategy", strategies.get(i)))
                            .map(e -> Double.isNaN(e.cpuPerOp()) ? e.score() : e.cpuPerOp() / 1e3)
                            .orElse(Double.NaN);
                }
                dec.series(t + " thread" + (t > 1 ? "s" : ""), v);
            }
            b.chart(dec, "Transformer.forward + argmax at positions 0..255 (mean), each thread decoding its own "
                    + "sequence; lower is better.");
            List<Targets.Line> lines = Targets.evaluate(r);
            if (!lines.isEmpty()) {
                b.section("Targets");
                b.paragraph("Ratios of figures from the same run. Targets: pool hit path <= 20 ns and >= 5x faster "
                        + "than malloc + free through FFM; 4 threads <= 2x the single-thread cost per operation; 0 heap "
                        + "bytes per operation on the hit paths. Judged on CPU time per operation (process CPU time / "
                        + "operations, which leaves out time spent waiting for a core on a busy machine or with more "
                        + "threads than cores); the wall-clock figure is shown beside it.");
                List<List<String>> rows = new ArrayList<>();
                for (Targets.Line l : lines) {
                    rows.add(List.of(l.met() ? "MET" : "MISS", l.target(), l.value(), l.goal()));
                }
                b.table(List.of("", "target", "measured", "goal"), rows);
            }
            b.section("All JMH results");
            List<List<String>> rows = new ArrayList<>();
            for (JmhResults.Entry e : r.results()) {
                String p = e.params().entrySet().stream().map(x -> x.getKey().equals("size")
                        ? Format.bytes(Long.parseLong(x.getValue())) : x.getValue()).reduce((x, y) -> x + ", " + y)
                        .orElse("");
                rows.add(List.of(e.benchmark(), p, String.valueOf(e.threads()),
                        String.format(Locale.ROOT, "%.2f", e.score()),
                        Double.isNaN(e.error()) ? "" : String.format(Locale.ROOT, "%.2f", e.error()), e.unit(),
                        Double.isNaN(e.cpuPerOp()) ? "" : String.format(Locale.ROOT, "%.2f", e.cpuPerOp()),
                        Double.isNaN(e.allocPerOp()) ? "" : String.format(Locale.ROOT, "%.3f", e.allocPerOp())));
            }
            b.table(List.of("benchmark", "params", "threads", "score", "± (99.9%)", "unit", "CPU ns/op",
                    "heap B/op"), rows);
        }

    }

    /** Compact ns label for bars: {@code 12.3}, {@code 4.5k}, {@code 1.2M}. */
    static String shortNs(double v) {
        if (v >= 1e6) {
            return String.format(Locale.ROOT, "%.1fM", v / 1e6);
        }
        if (v >= 1e4) {
            return String.format(Locale.ROOT, "%.0fk", v / 1e3);
        }
        if (v >= 1e3) {
            return String.format(Locale.ROOT, "%.1fk", v / 1e3);
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.1f", v);
    }
}
