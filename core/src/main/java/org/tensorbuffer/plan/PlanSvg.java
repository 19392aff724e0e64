package org.tensorbuffer.plan;

import java.util.List;
import java.util.Locale;
import org.tensorbuffer.chart.AxisTicks;
import org.tensorbuffer.chart.TitleWrap;

/**
 * Draws a {@link MemoryPlan} as SVG: x is the logical time of the trace, y the offset in the arena (0 at the bottom),
 * one rectangle per tensor spanning its lifetime and its byte range, with a tooltip naming it. A dashed line marks
 * the lower bound, so the gap between it and the top of the arena is the planning loss.
 */
public final class PlanSvg {
    private static final int WIDTH = 1200;
    private static final int HEIGHT = 600;
    private static final int MARGIN = 60;

    /** What "live" means on this drawing (stated under the title). */
    static final String LIVE = "Live here: the tensors in the trace only (tensors allocated before the traced run, "
            + "such as a model's weights and KV cache, are not in the plan); the lower bound is the most bytes of them live at once, "
            + "each aligned.";

    private PlanSvg() {
    }

    /** The SVG document for {@code plan}, titled with the plan's summary only. */
    public static String render(MemoryPlan plan) {
        return render(plan, "");
    }

    /**
     * The SVG document for {@code plan}, titled with {@code description} (what was planned and the command that
     * drew it, e.g. {@code "tn415.json (contraction schedule) · ./tensorbuffer plan tn415.json --svg p.svg"}) above
     * the plan's summary; both wrapped at words to the width of the drawing.
     *
     * @param description what ran, or {@code ""} for none
     */
    public static String render(MemoryPlan plan, String description) {
        AllocationTrace trace = plan.trace();
        List<String> titleLines = new java.util.ArrayList<>();
        int chars = (WIDTH - 2 * MARGIN) / 7; // about 7 px a character at 12 px
        titleLines.addAll(TitleWrap.wrap(description, chars));
        titleLines.addAll(TitleWrap.wrap(plan.summary(), chars));
        titleLines.addAll(TitleWrap.wrap(LIVE, chars));
        int top = Math.max(MARGIN, 16 + 14 * titleLines.size() + 12);
        int height = HEIGHT + top - MARGIN;
        double w = WIDTH - 2 * MARGIN;
        double h = height - top - MARGIN;
        double tMax = Math.max(1, trace.endTime() + 1);
        double yMax = Math.max(1, plan.arenaBytes());
        StringBuilder sb = new StringBuilder(256 + 200 * plan.size());
        sb.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"")
                .append(height).append("\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.append("<rect x=\"0\" y=\"0\" width=\"").append(WIDTH).append("\" height=\"").append(height)
                .append("\" fill=\"white\"/>\n");
        // The title: the description (bold), then the summary, wrapped at words into lines that fit the width.
        StringBuilder title = new StringBuilder("<text id=\"title\" x=\"" + MARGIN + "\" y=\"16\">");
        // each line is a tspan of class "title"
        int descLines = TitleWrap.wrap(description, chars).size();
        for (int line = 0; line < titleLines.size(); line++) {
            title.append("<tspan class=\"title\" x=\"").append(MARGIN).append("\" dy=\"").append(line == 0 ? 0 : 14).append('"')
                    .append(line < descLines ? " font-weight=\"bold\"" : "").append('>')
                    .append(escape(titleLines.get(line))).append("</tspan>");
        }
        sb.append(title).append("</text>\n");
        // Round ticks on both axes: arena offset (bytes) and logical time (allocation and release events).
        String unit = AxisTicks.byteUnit(yMax);
        for (double v : AxisTicks.bytes(yMax, 6)) {
            if (v > yMax * 1.0001) {
                break;
            }
            double y = height - MARGIN - h * v / yMax;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" "
                    + "stroke=\"black\"/><text class=\"ytick\" x=\"%d\" y=\"%.2f\" text-anchor=\"end\" font-size=\"10\">"
                    + "%s</text>%n",
                    MARGIN - 4, y, MARGIN, y, MARGIN - 6, y + 3, AxisTicks.byteLabel(v, unit)));
        }
        for (double t : AxisTicks.nice(tMax, 10)) {
            if (t > tMax * 1.0001) {
                break;
            }
            if (t != Math.rint(t)) {
                continue; // events are whole numbers
            }
            double x = MARGIN + w * t / tMax;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" "
                    + "stroke=\"black\"/><text class=\"xtick\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" "
                    + "font-size=\"10\">%s"
                    + "</text>%n", x, height - MARGIN, x, height - MARGIN + 4, x, height - MARGIN + 15,
                    String.format(Locale.ROOT, "%,d", (long) t)));
        }
        sb.append(String.format(Locale.ROOT,
                "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>%n",
                MARGIN, top, w, h));
        for (int i = 0; i < plan.size(); i++) {
            AllocationRecord r = trace.get(i);
            double x0 = MARGIN + w * r.firstUse() / tMax;
            double x1 = MARGIN + w * (r.lastUse() + 1) / tMax;
            double y1 = height - MARGIN - h * plan.offset(i) / yMax;
            double y0 = height - MARGIN - h * (plan.offset(i) + r.paddedBytes()) / yMax;
            int hue = (int) ((i * 137.508) % 360);
            sb.append(String.format(Locale.ROOT,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"hsl(%d,60%%,65%%)\" "
                            + "stroke=\"black\" stroke-width=\"0.3\"><title>%s at offset %d</title></rect>%n",
                    x0, y0, Math.max(0.5, x1 - x0), Math.max(0.5, y1 - y0), hue, escape(r.describe()),
                    plan.offset(i)));
        }
        double lb = height - MARGIN - h * plan.lowerBound() / yMax;
        sb.append(String.format(Locale.ROOT,
                "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"red\" stroke-dasharray=\"6,4\"/>%n",
                MARGIN, lb, MARGIN + w, lb));
        sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.2f\" fill=\"red\" text-anchor=\"end\">"
                + "lower bound %,d B</text>%n", MARGIN + w, lb - 4, plan.lowerBound()));
        sb.append(String.format(Locale.ROOT, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">logical time "
                + "(allocation and release events of the recorded run) →</text>%n", MARGIN + w / 2,
                height - MARGIN + 32));
        sb.append(String.format(Locale.ROOT, "<text class=\"ylabel\" x=\"12\" y=\"%.1f\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 12 %.1f)\">offset in the arena (arena %,d B) →</text>%n",
                top + h / 2, top + h / 2, plan.arenaBytes()));
        sb.append("</svg>\n");
        return sb.toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
