package org.tensorbuffer.cli;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.bench.RunInfo;
import org.tensorbuffer.llama.Checkpoint;
import org.tensorbuffer.llama.Config;
import org.tensorbuffer.llama.PrefillMode;
import org.tensorbuffer.llama.RequestWorkload;
import org.tensorbuffer.report.BarChart;
import org.tensorbuffer.report.HtmlReport;

/**
 * {@code compare --requests N}: the request workload ({@link RequestWorkload}) under each strategy, as a table,
 * {@code --json} or {@code --html}. Strategies run one after another on the same drawn requests; an untimed warm-up
 * of the first few requests per strategy comes first when {@code --warmup > 0}.
 */
final class RequestCompare {
    private static final int WARMUP_REQUESTS = 4;

    private RequestCompare() {
    }

    /** The outcome: the strategies' statistics and the requests they ran. */
    record Result(Path model, String device, long seed, PrefillMode mode, int maxPrompt, int maxNew,
                  List<RequestWorkload.Request> requests, List<RequestWorkload.Stats> stats) {
        boolean idsIdentical() {
            for (RequestWorkload.Stats s : stats) {
                for (int i = 0; i < requests.size(); i++) {
                    if (!Arrays.equals(s.ids().get(i), stats.getFirst().ids().get(i))) {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    /**
     * Runs the workload per strategy and prints it.
     *
     * @return the exit status: 0, or 3 if the strategies' ids differ
     */
    static int run(Path model, String device, List<AllocationStrategy> strategies, int n, long seed,
                   Integer maxPromptOpt, Integer maxNewOpt, PrefillMode mode, int warmup, boolean json, Path html,
                   String commandLine, boolean quiet, PrintStream out, PrintStream err) throws IOException {
        Config c;
        try (Checkpoint ck = Checkpoint.open(model)) {
            c = ck.config();
        }
        int half = Math.max(1, c.seqLen() / 2);
        int maxPrompt = maxPromptOpt == null ? half : maxPromptOpt;
        int maxNew = maxNewOpt == null ? half : maxNewOpt;
        List<RequestWorkload.Request> reqs = RequestWorkload.draw(c, n, seed, maxPrompt, maxNew);
        if (warmup > 0) {
            List<RequestWorkload.Request> w = reqs.subList(0, Math.min(WARMUP_REQUESTS, reqs.size()));
            for (AllocationStrategy s : strategies) {
                if (!quiet) {
                    err.printf(Locale.ROOT, "compare: warm-up %s, %d requests%n", name(s), w.size());
                }
                RequestWorkload.run(model, device, s, w, maxPrompt, mode, null);
            }
        }
        List<RequestWorkload.Stats> stats = new ArrayList<>();
        for (AllocationStrategy s : strategies) {
            RequestWorkload.Stats st = RequestWorkload.run(model, device, s, reqs, maxPrompt, mode,
                    quiet ? null : (done, total, last) -> {
                        if (done % 8 == 0 || done == total) {
                            err.printf(Locale.ROOT, "compare: %-9s request %d/%d%n", name(s), done, total);
                        }
                    });
            stats.add(st);
        }
        Result r = new Result(model, device, seed, mode, maxPrompt, maxNew, reqs, stats);
        if (json) {
            out.println(new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(json(r)));
        } else {
            out.println();
            out.print(table(r));
            out.println();
            out.print(legend(r));
        }
        if (html != null) {
            html(r, commandLine).write(html);
            if (!quiet) {
                err.println("compare: report written to " + html);
            }
        }
        return r.idsIdentical() ? 0 : 3;
    }

    /** The command line as typed, quoted for a POSIX shell (for the report). */
    static String commandLine(picocli.CommandLine.Model.CommandSpec spec) {
        var parsed = spec == null ? null : spec.commandLine().getParseResult();
        StringBuilder cmd = new StringBuilder("./tensorbuffer");
        for (String a : parsed == null ? List.of("compare") : parsed.originalArgs()) {
            cmd.append(' ').append(a.matches("[A-Za-z0-9_./=,:+@%-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return cmd.toString();
    }

    private static String name(AllocationStrategy s) {
        return s.name().toLowerCase(Locale.ROOT);
    }

    static List<String> header() {
        return List.of("strategy", "prefill tok/s", "decode tok/s", "device allocs", "after 8 req", "pool hit",
                "TB hit", "plan hit", "peak reserved", "lower bound", "reserved/LB");
    }

    static List<List<String>> rows(Result r) {
        List<List<String>> rows = new ArrayList<>();
        for (RequestWorkload.Stats s : r.stats()) {
            rows.add(List.of(name(s.strategy()), fmt("%.1f", s.prefillTokensPerSecond()),
                    fmt("%.1f", s.decodeTokensPerSecond()), Long.toString(s.rawAllocsTotal()),
                    Long.toString(s.rawAllocsAfterWarmup()), pct(s.poolHitRate()), pct(s.tensorBufferHitRate()),
                    s.strategy() == AllocationStrategy.PLANNED ? pct(s.planHitRate()) : "-",
                    mib(s.peakReservedBytes()), mib(s.lowerBoundBytes()), fmt("%.2fx", s.reservedOverLowerBound())));
        }
        return rows;
    }

    static String table(Result r) {
        List<String> h = header();
        List<List<String>> rows = rows(r);
        int[] w = new int[h.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = h.get(i).length();
            for (List<String> row : rows) {
                w[i] = Math.max(w[i], row.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, h, w);
        StringBuilder rule = new StringBuilder();
        for (int i = 0; i < w.length; i++) {
            rule.append(i == 0 ? "" : "-+-").append("-".repeat(w[i]));
        }
        sb.append(rule).append('\n');
        rows.forEach(row -> line(sb, row, w));
        return sb.toString();
    }

    static String legend(Result r) {
        long prompt = 0;
        long maxLen = 0;
        for (RequestWorkload.Request q : r.requests()) {
            prompt += q.prompt().length;
            maxLen = Math.max(maxLen, q.prompt().length);
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s (%s), %d requests (seed %d; prompts of 1..%d tokens, %d in all, "
                        + "longest %d; 1..%d new tokens), %s prefill, greedy, device %s, one context per strategy.%n",
                r.model(), r.stats().getFirst().config(), r.requests().size(), r.seed(), r.maxPrompt(), prompt,
                maxLen, r.maxNew(), r.mode().name().toLowerCase(Locale.ROOT), r.device()));
        sb.append("device allocs: from the context's creation (weights, KV cache, reservations); after 8 req: "
                + "after the first " + RequestWorkload.WARMUP_REQUESTS + " requests. lower bound: weights + KV cache "
                + "+ the largest activation bytes live at once (exact shapes).\n");
        for (RequestWorkload.Stats s : r.stats()) {
            if (s.strategy() == AllocationStrategy.PLANNED) {
                sb.append(String.format(Locale.ROOT, "planned: %d shape signatures planned (%s), %d recorded runs, "
                                + "%d replayed, %d divergent, arena %s%n", s.plans(), r.mode() == PrefillMode.BATCHED && r.maxPrompt() > 1
                                ? "prefill per power-of-two bucket, planned ahead on meta; the decode step" : "per shape",
                        s.plan().recordedRuns(),
                        s.plan().replayedRuns(), s.plan().divergentRuns(), mib(s.plan().arenaBytes())));
            }
        }
        sb.append(r.idsIdentical() ? "token ids: identical across strategies\n"
                : "token ids: DIFFER between strategies\n");
        return sb.toString();
    }

    static Map<String, Object> json(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("machine", RunInfo.currentMachine());
        m.put("jdk", RunInfo.currentJdk());
        m.put("model", r.model().toString());
        m.put("device", r.device());
        m.put("requests", r.requests().size());
        m.put("seed", r.seed());
        m.put("prefill", r.mode().name().toLowerCase(Locale.ROOT));
        m.put("max_prompt", r.maxPrompt());
        m.put("max_new", r.maxNew());
        m.put("warmup_requests", RequestWorkload.WARMUP_REQUESTS);
        m.put("ids_identical", r.idsIdentical());
        List<Object> reqs = new ArrayList<>();
        for (RequestWorkload.Request q : r.requests()) {
            reqs.add(Map.of("prompt_tokens", q.prompt().length, "steps", q.steps()));
        }
        m.put("request_shapes", reqs);
        List<Object> rs = new ArrayList<>();
        for (RequestWorkload.Stats s : r.stats()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("strategy", name(s.strategy()));
            o.put("prefill_tokens", s.prefillTokens());
            o.put("prefill_tokens_per_s", s.prefillTokensPerSecond());
            o.put("decode_tokens", s.decodeTokens());
            o.put("decode_tokens_per_s", s.decodeTokensPerSecond());
            o.put("raw_allocs_total", s.rawAllocsTotal());
            o.put("raw_allocs_after_warmup", s.rawAllocsAfterWarmup());
            o.put("pool_requests", s.poolRequests());
            o.put("pool_hit_rate", nan(s.poolHitRate()));
            o.put("tensorbuffer_requests", s.tensorBufferRequests());
            o.put("tensorbuffer_hit_rate", nan(s.tensorBufferHitRate()));
            if (s.strategy() == AllocationStrategy.PLANNED) {
                o.put("plan_signatures", s.plans());
                o.put("plan_hit_rate", nan(s.planHitRate()));
                o.put("plan_recorded_runs", s.plan().recordedRuns());
                o.put("plan_replayed_runs", s.plan().replayedRuns());
                o.put("plan_divergent_runs", s.plan().divergentRuns());
                o.put("plan_arena_allocations", s.plan().arenaAllocations());
                o.put("plan_arena_bytes", s.plan().arenaBytes());
            }
            o.put("peak_live_bytes", s.peakLiveBytes());
            o.put("peak_reserved_bytes", s.peakReservedBytes());
            o.put("lower_bound_bytes", s.lowerBoundBytes());
            o.put("reserved_over_lower_bound", nan(s.reservedOverLowerBound()));
            o.put("ids", s.ids());
            rs.add(o);
        }
        m.put("results", rs);
        return m;
    }

    static HtmlReport html(Result r, String commandLine) {
        List<String> names = r.stats().stream().map(s -> name(s.strategy())).toList();
        HtmlReport.Builder b = HtmlReport.builder(RunInfo.current(List.of(commandLine)))
                .title("TensorBuffer request workload: " + r.requests().size() + " requests on " + r.device());
        b.section("Strategies").table(header(), rows(r)).paragraph(legend(r));
        b.chart(BarChart.titled("Tokens per second").categories(names)
                .series("prefill", r.stats().stream().mapToDouble(RequestWorkload.Stats::prefillTokensPerSecond)
                        .toArray())
                .series("decode", r.stats().stream().mapToDouble(RequestWorkload.Stats::decodeTokensPerSecond)
                        .toArray()).axis("tokens/s"), "Prefill and decode tokens/s per strategy");
        b.chart(BarChart.titled("Device allocations after the first " + RequestWorkload.WARMUP_REQUESTS
                        + " requests").categories(names)
                .series("allocations", r.stats().stream().mapToDouble(s -> s.rawAllocsAfterWarmup()).toArray())
                .axis("allocations"), "Device allocations once the workload is warm");
        b.chart(BarChart.titled("Peak reserved vs lower bound").categories(names)
                .series("peak reserved MiB", r.stats().stream().mapToDouble(s -> s.peakReservedBytes() / 1048576.0)
                        .toArray())
                .series("lower bound MiB", r.stats().stream().mapToDouble(s -> s.lowerBoundBytes() / 1048576.0)
                        .toArray()).axis("MiB"), "Peak bytes held from the device against the liveness lower bound");
        return b.build();
    }

    private static void line(StringBuilder sb, List<String> cells, int[] w) {
        for (int i = 0; i < cells.size(); i++) {
            String f = i == 0 ? "%-" + w[i] + "s" : " | %" + w[i] + "s";
            sb.append(String.format(Locale.ROOT, f, cells.get(i)));
        }
        sb.append('\n');
    }

    private static String fmt(String f, double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, f, v);
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * v);
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.2f MiB", bytes / 1048576.0);
    }

    private static Double nan(double v) {
        return Double.isNaN(v) ? null : v;
    }
}
