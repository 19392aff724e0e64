package org.tensorbuffer.plan;

import java.util.Locale;

/**
 * Draws a {@link MemoryPlan} as SVG: x is the logical time of the trace, y the offset in the arena (0 at the bottom),
 * one rectangle per tensor spanning its lifetime and its byte range, with a tooltip naming it. A dashed line marks
 * the lower bound, so the gap between it and the top of the arena is the planning loss.
 */
public final class PlanSvg {
    private static final int WIDTH = 1200;
    private static final int HEIGHT = 600;
    private static final int MARGIN = 60;

    private PlanSvg() {
    }

    /** The SVG document for {@code plan}. */
    public static String render(MemoryPlan plan) {
        AllocationTrace trace = plan.trace();
        double w = WIDTH - 2 * MARGIN;
        double h = HEIGHT - 2 * MARGIN;
        double tMax = Math.max(1, trace.endTime() + 1);
        double yMax = Math.max(1, plan.arenaBytes());
        StringBuilder sb = new StringBuilder(256 + 200 * plan.size());
        sb.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"")
                .append(HEIGHT).append("\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.append("<rect x=\"0\" y=\"0\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT)
                .append("\" fill=\"white\"/>\n");
        // The title, wrapped at words into lines that fit the width (about 7 px a character at 12 px).
        StringBuilder title = new StringBuilder("<text x=\"" + MARGIN + "\" y=\"16\" font-weight=\"bold\">");
        int line = 0;
        for (String l : wrap(plan.summary().replaceAll(" +", " ").trim(), (WIDTH - 2 * MARGIN) / 7)) {
            title.append("<tspan x=\"").append(MARGIN).append("\" dy=\"").append(line++ == 0 ? 0 : 14).append("\">")
                    .append(escape(l)).append("</tspan>");
        }
        sb.append(title).append("</text>\n");
        // Round ticks on both axes: arena offset (bytes) and logical time (allocation and release events).
        double unit = yMax >= 1 << 20 ? 1 << 20 : yMax >= 1 << 10 ? 1 << 10 : 1;
        for (double u : niceTicks(yMax / unit, 6)) {
            double v = u * unit;
            if (v > yMax * 1.0001) {
                break;
            }
            double y = HEIGHT - MARGIN - h * v / yMax;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" "
                    + "stroke=\"black\"/><text x=\"%d\" y=\"%.2f\" text-anchor=\"end\" font-size=\"10\">%s</text>%n",
                    MARGIN - 4, y, MARGIN, y, MARGIN - 6, y + 3, bytes(v)));
        }
        for (double t : niceTicks(tMax, 10)) {
            if (t > tMax * 1.0001) {
                break;
            }
            if (t != Math.rint(t)) {
                continue; // events are whole numbers
            }
            double x = MARGIN + w * t / tMax;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
                    + "stroke=\"black\"/><text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%s"
                    + "</text>%n", x, HEIGHT - MARGIN, x, HEIGHT - MARGIN + 4, x, HEIGHT - MARGIN + 15,
                    String.format(Locale.ROOT, "%,d", (long) t)));
        }
        sb.append(String.format(Locale.ROOT,
                "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>%n",
                MARGIN, MARGIN, w, h));
        for (int i = 0; i < plan.size(); i++) {
            AllocationRecord r = trace.get(i);
            double x0 = MARGIN + w * r.firstUse() / tMax;
            double x1 = MARGIN + w * (r.lastUse() + 1) / tMax;
            double y1 = HEIGHT - MARGIN - h * plan.offset(i) / yMax;
            double y0 = HEIGHT - MARGIN - h * (plan.offset(i) + r.paddedBytes()) / yMax;
            int hue = (int) ((i * 137.508) % 360);
            sb.append(String.format(Locale.ROOT,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"hsl(%d,60%%,65%%)\" "
                            + "stroke=\"black\" stroke-width=\"0.3\"><title>%s at offset %d</title></rect>%n",
                    x0, y0, Math.max(0.5, x1 - x0), Math.max(0.5, y1 - y0), hue, escape(r.describe()),
                    plan.offset(i)));
        }
        double lb = HEIGHT - MARGIN - h * plan.lowerBound() / yMax;
        sb.append(String.format(Locale.ROOT,
                "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"red\" stroke-dasharray=\"6,4\"/>%n",
                MARGIN, lb, MARGIN + w, lb));
        sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.2f\" fill=\"red\" text-anchor=\"end\">"
                + "lower bound %,d B</text>%n", MARGIN + w, lb - 4, plan.lowerBound()));
        sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">logical time "
                + "(allocation and release events of the recorded run) →</text>%n", MARGIN + w / 2,
                HEIGHT - MARGIN + 32));
        sb.append(String.format(Locale.ROOT, "<text x=\"12\" y=\"%.1f\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 12 %.1f)\">offset in the arena (arena %,d B) →</text>%n",
                HEIGHT / 2.0, HEIGHT / 2.0, plan.arenaBytes()));
        sb.append("</svg>\n");
        return sb.toString();
    }

    /** {@code text} split at spaces into lines of at most {@code width} characters (longer words stay whole). */
    static java.util.List<String> wrap(String text, int width) {
        java.util.List<String> lines = new java.util.ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String word : text.split(" ")) {
            if (cur.length() > 0 && cur.length() + 1 + word.length() > width) {
                lines.add(cur.toString());
                cur.setLength(0);
            }
            cur.append(cur.length() > 0 ? " " : "").append(word);
        }
        if (cur.length() > 0) {
            lines.add(cur.toString());
        }
        return lines;
    }

    /** Round ticks from 0 covering {@code max}: steps of 1, 2, 2.5 or 5 times a power of ten (Heckbert 1990). */
    static double[] niceTicks(double max, int target) {
        double raw = Math.max(max, 1e-9) / target;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = 10 * mag;
        for (double k : new double[] {1, 2, 2.5, 5}) {
            if (k * mag >= raw * (1 - 1e-12)) {
                step = k * mag;
                break;
            }
        }
        int n = (int) Math.ceil(max / step - 1e-9);
        double[] t = new double[n + 1];
        for (int i = 0; i <= n; i++) {
            t[i] = i * step;
        }
        return t;
    }

    private static String bytes(double b) {
        if (b >= 1 << 20) {
            return String.format(Locale.ROOT, "%.3g MiB", b / (1 << 20)).replaceAll("\\.?0+ ", " ");
        }
        if (b >= 1 << 10) {
            return String.format(Locale.ROOT, "%.3g KiB", b / (1 << 10)).replaceAll("\\.?0+ ", " ");
        }
        return String.format(Locale.ROOT, "%d B", (long) b);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
