package org.tensorbuffer.observe;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tensorbuffer.chart.AxisTicks;

/**
 * Writes a {@link MemoryHistory} as one self-contained HTML page (inline CSS and SVG, no scripts, no network), after
 * PyTorch's {@code memory_viz}: a timeline of live and reserved bytes, the largest allocations as bars over time, and a
 * table of the allocations live at the peak with their shapes, pools and (when recorded) stacks.
 */
public final class MemoryTimelineHtml {
    private static final int W = 1000;
    private static final int H = 320;
    private static final int LEFT = 80;
    private static final int RIGHT = 20;
    private static final int TOP = 20;
    private static final int BOTTOM = 40;
    private static final int TOP_N = 20;
    private static final String[] COLORS = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
        "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

    private MemoryTimelineHtml() {
    }

    /**
     * Writes the page for {@code history} to {@code path}.
     *
     * @throws IOException if the file cannot be written
     */
    public static void write(MemoryHistory history, Path path) throws IOException {
        Files.writeString(path, render(history), StandardCharsets.UTF_8);
    }

    /** The page for {@code history} as a string. */
    public static String render(MemoryHistory history) {
        List<MemoryEvent> ev = history.events();
        StringBuilder sb = new StringBuilder(64 * 1024);
        sb.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<title>TensorBuffer memory timeline").append(history.description().isEmpty() ? ""
                        : ": " + esc(history.description())).append("</title><style>")
                .append("body{font-family:sans-serif;margin:20px;color:#222}h1{font-size:20px}h2{font-size:16px}")
                .append("table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;")
                .append("text-align:left}td.n{text-align:right}.legend span{display:inline-block;width:12px;")
                .append("height:12px;margin:0 4px 0 12px;vertical-align:middle}pre{font-size:11px;margin:0}")
                .append("</style></head><body>\n<h1>TensorBuffer memory timeline</h1>\n");
        if (!history.description().isEmpty()) {
            sb.append("<p id=\"what\"><b>").append(esc(history.description())).append("</b></p>\n");
        }
        long end = ev.isEmpty() ? 1 : Math.max(1, ev.get(ev.size() - 1).timeNanos());
        long begin = ev.isEmpty() ? 0 : ev.get(0).timeNanos();
        sb.append("<p>Context: ").append(esc(history.context().toString())).append(" &middot; events kept: ")
                .append(ev.size()).append(" of ").append(history.recordedCount()).append(" (dropped ")
                .append(history.droppedCount()).append(") &middot; span: ").append(ms(end - begin))
                .append(" &middot; peak live: ").append(bytes(history.peakLiveBytes()))
                .append(" &middot; peak reserved: ").append(bytes(history.peakReservedBytes()))
                .append(" &middot; live now: ").append(bytes(history.liveBytes())).append("</p>\n")
                .append("<p>Live = bytes of the blocks of every tensor of the context not yet closed, weights ")
                .append("included (").append(bytes(history.liveBytesAtStart()))
                .append(" were live when recording started); reserved = device memory held by the context's ")
                .append("allocators (live + cached). The same meaning as <code>compare</code>'s peak live bytes ")
                .append("and <code>memoryStats()</code>'s <code>allocated_bytes</code>.</p>\n");
        timeline(sb, ev, begin, end);
        Map<Long, long[]> spans = spans(ev, end);
        bars(sb, ev, spans, begin, end);
        peakTable(sb, ev);
        sb.append("</body></html>\n");
        return sb.toString();
    }

    private static void timeline(StringBuilder sb, List<MemoryEvent> ev, long begin, long end) {
        sb.append("<h2>Live and reserved bytes over time</h2>\n<div class=\"legend\"><span style=\"background:")
                .append("#c6dbef\"></span>reserved<span style=\"background:#08519c\"></span>live (allocated)</div>\n");
        long maxY = 1;
        for (MemoryEvent e : ev) {
            maxY = Math.max(maxY, Math.max(e.liveBytes(), e.reservedBytes()));
        }
        int pw = W - LEFT - RIGHT;
        int ph = H - TOP - BOTTOM;
        sb.append("<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(W).append("\" height=\"")
                .append(H).append("\" viewBox=\"0 0 ").append(W).append(' ').append(H).append("\">\n");
        sb.append("<rect x=\"").append(LEFT).append("\" y=\"").append(TOP).append("\" width=\"").append(pw)
                .append("\" height=\"").append(ph).append("\" fill=\"#fafafa\" stroke=\"#999\"/>\n");
        double[] yTicks = AxisTicks.bytes(maxY, 5);
        maxY = (long) Math.ceil(yTicks[yTicks.length - 1]);
        String yUnit = AxisTicks.byteUnit(maxY);
        for (double v : yTicks) {
            double y = TOP + ph - ph * v / maxY;
            sb.append("<line x1=\"").append(LEFT).append("\" x2=\"").append(LEFT + pw).append("\" y1=\"")
                    .append(f(y)).append("\" y2=\"").append(f(y)).append("\" stroke=\"#e0e0e0\"/>")
                    .append("<text x=\"").append(LEFT - 6).append("\" y=\"").append(f(y + 4))
                    .append("\" font-size=\"11\" text-anchor=\"end\" class=\"ytick\">").append(inUnit(v, yUnit))
                    .append("</text>\n");
        }
        sb.append("<text class=\"ylabel\" x=\"14\" y=\"").append(TOP + ph / 2).append("\" font-size=\"12\" ")
                .append("text-anchor=\"middle\" transform=\"rotate(-90 14 ").append(TOP + ph / 2)
                .append(")\">bytes (").append(yUnit).append(")</text>\n");
        timeAxis(sb, LEFT, pw, H - BOTTOM, begin, end);
        sb.append("<text class=\"xlabel\" x=\"").append(LEFT + pw / 2).append("\" y=\"").append(H - 6)
                .append("\" font-size=\"12\" text-anchor=\"middle\">time since the first event kept</text>\n");
        if (!ev.isEmpty()) {
            // One point per pixel column at most, keeping each column's maximum so that peaks stay visible.
            double[] liveCol = new double[pw + 1];
            double[] resCol = new double[pw + 1];
            boolean[] has = new boolean[pw + 1];
            for (MemoryEvent e : ev) {
                int c = (int) Math.round((double) (e.timeNanos() - begin) / Math.max(1, end - begin) * pw);
                c = Math.max(0, Math.min(pw, c));
                liveCol[c] = has[c] ? Math.max(liveCol[c], e.liveBytes()) : e.liveBytes();
                resCol[c] = has[c] ? Math.max(resCol[c], e.reservedBytes()) : e.reservedBytes();
                has[c] = true;
            }
            area(sb, resCol, has, maxY, pw, ph, "#c6dbef", "#6baed6", "reserved");
            area(sb, liveCol, has, maxY, pw, ph, "#4292c6", "#08519c", "live");
        }
        sb.append("</svg>\n");
    }

    private static void area(StringBuilder sb, double[] col, boolean[] has, long maxY, int pw, int ph, String fill,
                             String stroke, String name) {
        StringBuilder pts = new StringBuilder();
        double last = 0;
        double lastX = LEFT;
        pts.append(LEFT).append(',').append(TOP + ph).append(' ');
        for (int c = 0; c <= pw; c++) {
            if (!has[c]) {
                continue;
            }
            double x = LEFT + c;
            double y = TOP + ph - ph * col[c] / maxY;
            pts.append(f(x)).append(',').append(f(TOP + ph - ph * last / maxY)).append(' '); // step
            pts.append(f(x)).append(',').append(f(y)).append(' ');
            last = col[c];
            lastX = x;
        }
        pts.append(f(lastX)).append(',').append(f(TOP + ph - ph * last / maxY)).append(' ');
        pts.append(f(lastX)).append(',').append(TOP + ph);
        sb.append("<polygon class=\"").append(name).append("\" points=\"").append(pts).append("\" fill=\"")
                .append(fill).append("\" stroke=\"").append(stroke)
                .append("\" stroke-width=\"1.5\"><title>").append(name).append("</title></polygon>\n");
    }

    /** allocId -> {start, end, bytes} for allocations whose ALLOC was kept; end = {@code end} if never freed. */
    private static Map<Long, long[]> spans(List<MemoryEvent> ev, long end) {
        Map<Long, long[]> m = new LinkedHashMap<>();
        for (MemoryEvent e : ev) {
            if (e.kind() == MemoryEvent.Kind.ALLOC) {
                m.put(e.allocId(), new long[] {e.timeNanos(), end, e.bytes()});
            } else if (e.kind() == MemoryEvent.Kind.FREE) {
                long[] s = m.get(e.allocId());
                if (s != null) {
                    s[1] = e.timeNanos();
                }
            }
        }
        return m;
    }

    private static void bars(StringBuilder sb, List<MemoryEvent> ev, Map<Long, long[]> spans, long begin, long end) {
        Map<Long, MemoryEvent> allocs = new LinkedHashMap<>();
        for (MemoryEvent e : ev) {
            if (e.kind() == MemoryEvent.Kind.ALLOC) {
                allocs.put(e.allocId(), e);
            }
        }
        List<MemoryEvent> largest = new ArrayList<>(allocs.values());
        largest.sort(Comparator.comparingLong(MemoryEvent::bytes).reversed()
                .thenComparingLong(MemoryEvent::allocId));
        if (largest.size() > TOP_N) {
            largest = largest.subList(0, TOP_N);
        }
        sb.append("<h2>Largest allocations (").append(largest.size()).append(" of ").append(allocs.size())
                .append(") over time</h2>\n");
        int rowH = 16;
        int left = 230;
        int h = TOP + largest.size() * rowH + 56;
        int pw = W - left - RIGHT;
        sb.append("<svg id=\"allocations\" xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(W)
                .append("\" height=\"").append(h).append("\" viewBox=\"0 0 ").append(W).append(' ').append(h)
                .append("\">\n");
        for (int i = 0; i < largest.size(); i++) {
            MemoryEvent e = largest.get(i);
            long[] s = spans.get(e.allocId());
            double x0 = left + pw * (double) (s[0] - begin) / Math.max(1, end - begin);
            double x1 = left + pw * (double) (s[1] - begin) / Math.max(1, end - begin);
            double y = TOP + i * rowH;
            sb.append("<text x=\"").append(left - 6).append("\" y=\"").append(f(y + 11))
                    .append("\" font-size=\"10\" text-anchor=\"end\">").append(esc(bytes(e.bytes()) + "  "
                    + shortShape(e.shape()) + " " + e.dtype())).append("</text>");
            sb.append("<rect x=\"").append(f(x0)).append("\" y=\"").append(f(y)).append("\" width=\"")
                    .append(f(Math.max(1.5, x1 - x0))).append("\" height=\"").append(rowH - 3).append("\" fill=\"")
                    .append(COLORS[i % COLORS.length]).append("\"><title>").append(esc(e.shape() + " " + e.dtype()
                    + ", " + bytes(e.bytes()) + ", " + e.pool() + ", " + e.strategy() + ", "
                    + ms(s[0] - begin) + " to " + ms(s[1] - begin))).append("</title></rect>\n");
        }
        int axisY = TOP + largest.size() * rowH + 2;
        timeAxis(sb, left, pw, axisY, begin, end);
        sb.append("<text class=\"xlabel\" x=\"").append(left + pw / 2).append("\" y=\"").append(axisY + 32)
                .append("\" font-size=\"12\" text-anchor=\"middle\">time since the first event kept (bar: from ")
                .append("allocation to free)</text>\n");
        sb.append("<text class=\"ylabel\" x=\"").append(left - 6).append("\" y=\"").append(TOP - 6)
                .append("\" font-size=\"11\" text-anchor=\"end\">bytes, shape, dtype</text>\n");
        sb.append("</svg>\n");
    }

    private static void peakTable(StringBuilder sb, List<MemoryEvent> ev) {
        int peakIdx = -1;
        long peak = -1;
        for (int i = 0; i < ev.size(); i++) {
            if (ev.get(i).liveBytes() > peak) {
                peak = ev.get(i).liveBytes();
                peakIdx = i;
            }
        }
        Map<Long, MemoryEvent> liveAtPeak = new LinkedHashMap<>();
        for (int i = 0; i <= peakIdx; i++) {
            MemoryEvent e = ev.get(i);
            if (e.kind() == MemoryEvent.Kind.ALLOC) {
                liveAtPeak.put(e.allocId(), e);
            } else if (e.kind() == MemoryEvent.Kind.FREE) {
                liveAtPeak.remove(e.allocId());
            }
        }
        List<MemoryEvent> top = new ArrayList<>(liveAtPeak.values());
        top.sort(Comparator.comparingLong(MemoryEvent::bytes).reversed().thenComparingLong(MemoryEvent::allocId));
        sb.append("<h2>Largest live allocations at the peak (").append(peak < 0 ? "no events" : bytes(peak))
                .append(peakIdx < 0 ? "" : ", " + ms(ev.get(peakIdx).timeNanos() - ev.get(0).timeNanos()))
                .append(")</h2>\n<table id=\"peak\"><tr><th>#</th><th>bytes</th><th>shape</th><th>dtype</th>")
                .append("<th>pool</th><th>strategy</th><th>allocated at</th><th>stack</th></tr>\n");
        long t0 = ev.isEmpty() ? 0 : ev.get(0).timeNanos();
        for (int i = 0; i < Math.min(TOP_N, top.size()); i++) {
            MemoryEvent e = top.get(i);
            sb.append("<tr><td class=\"n\">").append(i + 1).append("</td><td class=\"n\">").append(bytes(e.bytes()))
                    .append("</td><td>").append(esc(e.shape())).append("</td><td>").append(esc(e.dtype()))
                    .append("</td><td>").append(esc(e.pool())).append("</td><td>").append(esc(e.strategy()))
                    .append("</td><td class=\"n\">").append(ms(e.timeNanos() - t0)).append("</td><td>")
                    .append(e.stack() == null ? "(not recorded)"
                            : "<details><summary>stack</summary><pre>" + esc(e.stack()) + "</pre></details>")
                    .append("</td></tr>\n");
        }
        sb.append("</table>\n<p>Allocations made before the first kept event are counted in the totals but not "
                + "listed.</p>\n");
    }

    /**
     * A time axis along {@code [x0, x0 + width]} at height {@code y}: a line, round ("nice") tick values in ms or s,
     * with tick marks and labels below.
     */
    private static void timeAxis(StringBuilder sb, int x0, int width, int y, long begin, long end) {
        double span = Math.max(1, end - begin);
        boolean seconds = span >= 2e9;
        double scale = seconds ? 1e9 : 1e6;
        double[] ticks = AxisTicks.nice(span / scale, 6);
        sb.append("<line x1=\"").append(x0).append("\" x2=\"").append(x0 + width).append("\" y1=\"").append(y)
                .append("\" y2=\"").append(y).append("\" stroke=\"#999\"/>\n");
        for (double tick : ticks) {
            double t = tick * scale;
            if (t > span * 1.0001) {
                break;
            }
            double x = x0 + width * t / span;
            sb.append("<line x1=\"").append(f(x)).append("\" x2=\"").append(f(x)).append("\" y1=\"").append(y)
                    .append("\" y2=\"").append(y + 4).append("\" stroke=\"#999\"/>")
                    .append("<text x=\"").append(f(x)).append("\" y=\"").append(y + 15)
                    .append("\" font-size=\"11\" text-anchor=\"middle\" class=\"xtick\">")
                    .append(trim(tick)).append(seconds ? " s" : " ms").append("</text>\n");
        }
    }

    private static String inUnit(double bytes, String unit) {
        return AxisTicks.byteLabel(bytes, unit);
    }

    private static String trim(double v) {
        return AxisTicks.label(v);
    }

    /** A shape short enough for the bar labels: {@code [2, 2, 2, …] (27-d)} beyond 24 characters. */
    static String shortShape(String shape) {
        if (shape.length() <= 24) {
            return shape;
        }
        int rank = 1;
        for (int i = 0; i < shape.length(); i++) {
            rank += shape.charAt(i) == ',' ? 1 : 0;
        }
        int cut = shape.lastIndexOf(',', 16);
        return shape.substring(0, cut < 0 ? 16 : cut + 1) + " …] (" + rank + "-d)";
    }

    private static String f(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    static String bytes(long b) {
        return ByteUnits.format(b);
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
