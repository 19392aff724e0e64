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
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\">%s</text>%n", MARGIN,
                escape(plan.summary().replaceAll(" +", " ").trim())));
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
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">time (allocation and release events) →</text>%n",
                MARGIN, HEIGHT - MARGIN + 20));
        sb.append(String.format(Locale.ROOT, "<text x=\"15\" y=\"%d\" transform=\"rotate(-90 15 %d)\">"
                + "offset (bytes, arena %,d B) →</text>%n", HEIGHT - MARGIN, HEIGHT - MARGIN, plan.arenaBytes()));
        sb.append("</svg>\n");
        return sb.toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
