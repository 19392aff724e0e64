package org.tensorbuffer.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.tensorbuffer.bench.CpuTimeProfiler;
import org.tensorbuffer.bench.Format;
import org.tensorbuffer.bench.JmhResults;
import org.tensorbuffer.bench.RunInfo;
import org.tensorbuffer.bench.Targets;
import org.tensorbuffer.report.HtmlReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code tensorbuffer bench}: runs the JMH suite of package {@code org.tensorbuffer.bench} through the JMH Runner API,
 * once per thread count, with the GC profiler (heap bytes per op), merges the results into one JMH JSON file (and a
 * {@code .meta.json} side file with machine, JDK, date, commit and command), and prints a table and the target
 * ratios ({@link Targets}).
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the JMH allocation benchmarks (raw device, BufferPool, TensorBuffer, malloc, arenas, "
                + "direct buffers; size-distribution and workload benchmarks) and write JSON results.",
            "Defaults: 1 fork, 3 x 1 s warm-up, 5 x 1 s measurement, threads 1, 2, 4, -prof gc and the CPU-time "
                + "profiler (about 20 min for the whole suite). --quick: 1 x 100 ms warm-up and 3 x 100 ms "
                + "measurement (rough figures, for a smoke run)."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--quick", description = "Few short iterations (CI smoke; the figures are rough).")
    boolean quick;

    @Option(names = {"-i", "--include"}, paramLabel = "REGEX",
            description = "Benchmarks to run, as JMH regexes over Class.method (repeatable; default: all).")
    List<String> includes = new ArrayList<>();

    @Option(names = {"-t", "--threads"}, split = ",", paramLabel = "N",
            description = "Thread counts, one JMH run each (default: ${DEFAULT-VALUE}).", defaultValue = "1,2,4")
    List<Integer> threads;

    @Option(names = {"-p", "--param"}, paramLabel = "NAME=V1,V2",
            description = "Override a @Param, e.g. -p size=64,4096 or -p profile=tn415.")
    Map<String, String> params = new LinkedHashMap<>();

    @Option(names = {"-f", "--forks"}, description = "JMH forks per benchmark; 0 runs in this JVM "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "1")
    int forks;

    @Option(names = "--no-gc-profiler", description = "Do not run with -prof gc (no heap bytes per op).")
    boolean noGc;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", defaultValue = "bench-results/jmh.json",
            description = "JMH JSON results (default: ${DEFAULT-VALUE}, whose directory is created; a FILE given "
                    + "must be in an existing directory); FILE.meta.json gets machine, JDK, date, command.")
    Path output;

    @Option(names = "--html", paramLabel = "FILE", converter = OutputFile.class,
            description = "Also write an HTML report of the JMH results.")
    Path html;

    /**
     * Refuses, before any benchmark runs, what JMH would refuse late or ignore: thread counts below 1, negative
     * forks, a regex that does not compile or selects nothing, a {@code -p} name no selected benchmark has, an output
     * file that cannot be written.
     */
    private void validate() throws IOException {
        for (int t : threads) {
            if (t < 1) {
                throw new ParameterException(spec.commandLine(), "-t/--threads: thread count " + t
                        + " must be at least 1");
            }
        }
        if (forks < 0) {
            throw new ParameterException(spec.commandLine(), "-f/--forks " + forks + " must be at least 0");
        }
        List<BenchmarkListEntry> all = new ArrayList<>(BenchmarkList.defaultList().getAll(
                org.openjdk.jmh.runner.format.OutputFormatFactory.createFormatInstance(System.err,
                        org.openjdk.jmh.runner.options.VerboseMode.SILENT), List.of()));
        List<BenchmarkListEntry> selected = new ArrayList<>();
        List<String> regexes = includes.isEmpty() ? List.of("org\\.tensorbuffer\\.bench\\..*") : includes;
        for (String regex : regexes) {
            Pattern p;
            try {
                p = Pattern.compile(regex);
            } catch (PatternSyntaxException e) {
                throw new ParameterException(spec.commandLine(), "-i/--include '" + regex + "' is not a valid regex: "
                        + e.getDescription() + " near index " + e.getIndex());
            }
            List<BenchmarkListEntry> hits = all.stream().filter(e -> p.matcher(e.getUsername()).find()).toList();
            if (hits.isEmpty()) {
                throw new ParameterException(spec.commandLine(), "-i/--include '" + regex + "' matches no "
                        + "benchmark of org.tensorbuffer.bench");
            }
            selected.addAll(hits);
        }
        Set<String> known = new TreeSet<>();
        for (BenchmarkListEntry e : selected) {
            known.addAll(e.getParams().orElse(Map.of()).keySet());
        }
        for (String name : params.keySet()) {
            if (!known.contains(name)) {
                throw new ParameterException(spec.commandLine(), "-p/--param '" + name + "' is not a parameter of "
                        + "the selected benchmarks (parameters: " + String.join(", ", known) + ")");
            }
        }
        var parsed = spec.commandLine().getParseResult();
        if (parsed != null && parsed.hasMatchedOption("-o")) {
            try {
                OutputFile.check(output, output.toString());
            } catch (picocli.CommandLine.TypeConversionException e) {
                throw new ParameterException(spec.commandLine(), "-o/--output " + e.getMessage());
            }
        } else {
            Files.createDirectories(output.toAbsolutePath().getParent()); // the default bench-results/
        }
    }

    @Override
    public Integer call() throws RunnerException {
        List<String> command = new ArrayList<>();
        command.add(commandLine());
        RunInfo info = RunInfo.current(command);
        JsonArray merged = new JsonArray();
        try {
            validate();
            Path dir = output.toAbsolutePath().getParent();
            for (int t : threads) {
                Path part = Files.createTempFile(dir, "jmh-t" + t + "-", ".json");
                try {
                    new Runner(options(t, part).build()).run();
                    merged.addAll(JsonParser.parseString(Files.readString(part)).getAsJsonArray());
                } finally {
                    Files.deleteIfExists(part);
                }
            }
            Files.writeString(output, new GsonBuilder().setPrettyPrinting().create().toJson(merged));
            info.write(RunInfo.sideFile(output));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        JmhResults results = JmhResults.parse(merged);
        printSummary(results);
        System.out.println("results: " + output + " (and " + RunInfo.sideFile(output).getFileName() + ")");
        if (html != null) {
            HtmlReport.builder(info).jmh(results).build().write(html);
            System.out.println("report:  " + html);
        }
        return 0;
    }

    /** The command line as typed (arguments quoted for a POSIX shell where needed). */
    private String commandLine() {
        var parsed = spec.commandLine().getParseResult();
        List<String> args = parsed == null ? List.of("bench") : parsed.originalArgs();
        StringBuilder b = new StringBuilder("./tensorbuffer");
        for (String a : args) {
            b.append(' ').append(a.matches("[A-Za-z0-9_./=,:+@%-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return b.toString();
    }

    private ChainedOptionsBuilder options(int t, Path result) {
        List<String> jvm = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED", "--add-modules",
                "jdk.incubator.vector", "-XX:+UseParallelGC", "-Xms1g", "-Xmx1g"));
        for (String p : List.of("tensorbuffer.home", "tensorbuffer.bench.model", "tensorbuffer.bench.device")) {
            if (System.getProperty(p) != null) {
                jvm.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        ChainedOptionsBuilder o = new OptionsBuilder()
                .threads(t)
                .forks(forks)
                .shouldFailOnError(true)
                .resultFormat(ResultFormatType.JSON)
                .result(result.toString())
                .jvmArgs(jvm.toArray(String[]::new));
        if (includes.isEmpty()) {
            o.include("org\\.tensorbuffer\\.bench\\..*");
        } else {
            includes.forEach(o::include);
        }
        params.forEach((k, v) -> o.param(k, v.split(",")));
        o.addProfiler(CpuTimeProfiler.class);
        if (!noGc) {
            o.addProfiler(GCProfiler.class);
        }
        if (quick) {
            o.warmupIterations(1).warmupTime(TimeValue.milliseconds(100))
                    .measurementIterations(3).measurementTime(TimeValue.milliseconds(100));
        }
        return o;
    }

    private static void printSummary(JmhResults results) {
        System.out.println();
        System.out.println("== JMH results (wall ns/op per thread; CPU ns/op of the JVM; heap B/op from -prof gc) ==");
        System.out.printf("%-44s %-16s %7s %14s %12s %12s %12s%n", "benchmark", "param", "threads", "ns/op", "+-",
                "CPU ns/op", "heap B/op");
        for (JmhResults.Entry e : results.results()) {
            String param = e.params().entrySet().stream()
                    .map(p -> p.getKey().equals("size") ? Format.bytes(Long.parseLong(p.getValue())) : p.getValue())
                    .reduce((a, b) -> a + "," + b).orElse("");
            System.out.printf("%-44s %-16s %7d %14.2f %12.2f %12s %12s%n", e.benchmark(), param, e.threads(),
                    e.score(), e.error(), Double.isNaN(e.cpuPerOp()) ? "-" : String.format("%.2f", e.cpuPerOp()),
                    Double.isNaN(e.allocPerOp()) ? "-" : String.format("%.3f", e.allocPerOp()));
        }
        List<Targets.Line> lines = Targets.evaluate(results);
        if (!lines.isEmpty()) {
            System.out.println();
            System.out.println("== Targets (ratios measured in this run; " + Runtime.getRuntime().availableProcessors()
                    + " CPUs) ==");
            lines.forEach(System.out::println);
        }
    }
}
