package org.tensorbuffer.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * JMH results as JMH writes them in its JSON format ({@code -rf json}): one entry per (benchmark, parameters,
 * threads), read back for the summary the {@code bench} command prints and for the HTML report.
 *
 * @param results the entries, in file order
 */
public record JmhResults(List<Entry> results) {
    /** The key of the heap bytes per operation that {@code -prof gc} adds. */
    public static final String ALLOC_NORM = "gc.alloc.rate.norm";

    /**
     * One JMH result.
     *
     * @param benchmark   {@code Class.method}, without the package
     * @param mode        JMH mode, e.g. {@code avgt}
     * @param threads     benchmark threads
     * @param params      the {@code @Param} values
     * @param score       primary score (in {@code unit})
     * @param error       99.9% confidence half-width of the score (NaN when JMH could not compute one)
     * @param unit        e.g. {@code ns/op}
     * @param allocPerOp  Java heap bytes allocated per operation ({@code gc.alloc.rate.norm}), NaN if not profiled
     * @param cpuPerOp    process CPU time per operation in ns ({@link CpuTimeProfiler}), NaN if not profiled
     */
    public record Entry(String benchmark, String mode, int threads, Map<String, String> params, double score,
                        double error, String unit, double allocPerOp, double cpuPerOp) {
        /** The benchmark method's name. */
        public String method() {
            return benchmark.substring(benchmark.lastIndexOf('.') + 1);
        }

        /** The benchmark class's simple name. */
        public String className() {
            int dot = benchmark.lastIndexOf('.');
            return dot < 0 ? "" : benchmark.substring(0, dot);
        }

        /** A parameter's value, or {@code null}. */
        public String param(String name) {
            return params.get(name);
        }
    }

    /** Reads a JMH JSON result file. */
    public static JmhResults read(Path file) {
        try {
            return parse(JsonParser.parseString(Files.readString(file)).getAsJsonArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read JMH results " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + " is not a JMH JSON result file: " + e.getMessage(), e);
        }
    }

    /** Parses JMH's JSON array. */
    public static JmhResults parse(JsonArray array) {
        List<Entry> out = new ArrayList<>();
        for (JsonElement e : array) {
            JsonObject o = e.getAsJsonObject();
            String name = o.get("benchmark").getAsString();
            int lastDot = name.lastIndexOf('.');
            int classDot = name.lastIndexOf('.', lastDot - 1);
            String shortName = name.substring(classDot + 1);
            Map<String, String> params = new TreeMap<>();
            if (o.has("params")) {
                o.getAsJsonObject("params").entrySet().forEach(p -> params.put(p.getKey(), p.getValue().getAsString()));
            }
            JsonObject primary = o.getAsJsonObject("primaryMetric");
            double alloc = secondary(o, ALLOC_NORM);
            double cpu = secondary(o, CpuTimeProfiler.KEY);
            out.add(new Entry(shortName, o.get("mode").getAsString(), o.get("threads").getAsInt(),
                    Collections.unmodifiableMap(params), number(primary.get("score")),
                    number(primary.get("scoreError")), primary.get("scoreUnit").getAsString(), alloc, cpu));
        }
        return new JmhResults(List.copyOf(out));
    }

    private static double secondary(JsonObject o, String key) {
        if (o.has("secondaryMetrics") && o.getAsJsonObject("secondaryMetrics").has(key)) {
            return number(o.getAsJsonObject("secondaryMetrics").getAsJsonObject(key).get("score"));
        }
        return Double.NaN;
    }

    private static double number(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return Double.NaN;
        }
        String s = e.getAsString();
        return s.equals("NaN") ? Double.NaN : Double.parseDouble(s);
    }

    /** The entry of a benchmark with the given threads and parameter values (all must match), if any. */
    public Optional<Entry> find(String benchmark, int threads, Map<String, String> params) {
        return results.stream()
                .filter(r -> r.benchmark.equals(benchmark) && r.threads == threads
                        && params.entrySet().stream().allMatch(p -> p.getValue().equals(r.params.get(p.getKey()))))
                .findFirst();
    }

    /** Entries grouped by benchmark class simple name, in file order. */
    public Map<String, List<Entry>> byClass() {
        Map<String, List<Entry>> out = new LinkedHashMap<>();
        for (Entry e : results) {
            out.computeIfAbsent(e.className(), k -> new ArrayList<>()).add(e);
        }
        return out;
    }
}
