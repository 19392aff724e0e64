package org.tensorbuffer.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleFunction;
import org.tensorbuffer.chart.AxisTicks;
import org.tensorbuffer.chart.TitleWrap;

/**
 * A grouped bar chart rendered as hand-written, self-contained SVG (no scripts, no external fonts or styles): one
 * group of bars per category, one bar per series, a linear or base-10 logarithmic value axis, a legend, value labels
 * and a {@code <title>} tooltip on each bar. Missing values ({@code NaN}) leave a gap. Not thread-safe (a builder).
 */
public final class BarChart {
    /** Colour-blind-friendly palette (Okabe-Ito, then a few neutral extras). */
    static final String[] PALETTE = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
        "#000000", "#999999", "#8C564B"};

    private final String title;
    private final List<String> categories = new ArrayList<>();
    private final List<String> seriesNames = new ArrayList<>();
    private final List<double[]> seriesValues = new ArrayList<>();
    private String axisLabel = "";
    private boolean log;
    private int width = 1000;
    private int height = 380;
    private DoubleFunction<String> valueFormat = v -> String.format(Locale.ROOT, "%.3g", v);

    private BarChart(String title) {
        this.title = title;
    }

    /** A chart with a title. */
    public static BarChart titled(String title) {
        return new BarChart(title);
    }

    /** The categories (x-axis groups), in order. */
    public BarChart categories(List<String> names) {
        categories.clear();
        categories.addAll(names);
        return this;
    }

    /** Adds a series: one value per category ({@code NaN} for none). */
    public BarChart series(String name, double... values) {
        if (values.length != categories.size()) {
            throw new IllegalArgumentException("series '" + name + "' has " + values.length + " values for "
                    + categories.size() + " categories");
        }
        seriesNames.add(name);
        seriesValues.add(values.clone());
        return this;
    }

    /** The value axis label, with its unit, e.g. {@code ns/op}. */
    public BarChart axis(String label) {
        this.axisLabel = label;
        return this;
    }

    /** A base-10 logarithmic value axis (for values spanning decades; values must be positive). */
    public BarChart log(boolean log) {
        this.log = log;
        return this;
    }

    /** Pixel size. */
    public BarChart size(int width, int height) {
        this.width = width;
        this.height = height;
        return this;
    }

    /** How bar labels and tooltips print a value. */
    public BarChart format(DoubleFunction<String> f) {
        this.valueFormat = f;
        return this;
    }

    /** Whether the chart has any value to draw. */
    public boolean isEmpty() {
        return seriesValues.stream().flatMapToDouble(java.util.Arrays::stream).noneMatch(v -> !Double.isNaN(v));
    }

    /** The SVG element. */
    public String svg() {
        double max = 0;
        double minPos = Double.POSITIVE_INFINITY;
        for (double[] vs : seriesValues) {
            for (double v : vs) {
                if (!Double.isNaN(v)) {
                    max = Math.max(max, v);
                    if (v > 0) {
                        minPos = Math.min(minPos, v);
                    }
                }
            }
        }
        if (max <= 0) {
            max = 1;
        }
        if (minPos == Double.POSITIVE_INFINITY) {
            minPos = 1;
        }
        int legendRows = (seriesNames.size() + 4) / 5;
        // the title wrapped at words to the width (about 8.5 px a character in bold 15 px)
        List<String> titleLines = TitleWrap.wrap(title, Math.max(20, (int) ((width - 94) / 8.5)));
        int titleExtra = 18 * Math.max(0, titleLines.size() - 1);
        double left = 78, right = 16, top = 36 + titleExtra + 18 * legendRows, bottom = 46;
        double plotW = width - left - right, plotH = height - top - bottom;
        final double lo;
        final double hi;
        List<Double> ticks = new ArrayList<>();
        if (log) {
            lo = Math.floor(Math.log10(minPos) - 0.3); // the smallest bar keeps some height
            hi = Math.max(lo + 1, Math.ceil(Math.log10(max) + 0.15));
            for (double e = lo; e <= hi + 1e-9; e++) {
                ticks.add(Math.pow(10, e));
            }
        } else {
            lo = 0;
            double[] nice = AxisTicks.nice(max * 1.12, 5);
            hi = nice[nice.length - 1];
            for (double v : nice) {
                ticks.add(v);
            }
        }
        DoubleFunction<Double> y = v -> {
            double f = log ? (Math.log10(Math.max(v, Math.pow(10, lo))) - lo) / (hi - lo) : (v - lo) / (hi - lo);
            return top + plotH * (1 - f);
        };
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" role=\"img\" aria-label=\"%s\">%n",
                width, height, width, height, esc(title)));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>%n", width, height));
        s.append("<text class=\"title\" font-size=\"15\" font-weight=\"bold\">");
        for (int i = 0; i < titleLines.size(); i++) {
            s.append(String.format(Locale.ROOT, "<tspan x=\"%.1f\" y=\"%d\">%s</tspan>", left, 20 + 18 * i,
                    esc(titleLines.get(i))));
        }
        s.append("</text>\n");
        for (int i = 0; i < seriesNames.size(); i++) {
            double lx = left + (i % 5) * (plotW / 5);
            double ly = 30 + titleExtra + 18 * (i / 5);
            s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                    + "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>%n", lx, ly, color(i), lx + 16, ly + 10,
                    esc(seriesNames.get(i))));
        }
        for (double t : ticks) {
            double ty = y.apply(t);
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                    + "stroke=\"#ddd\"/><text class=\"ytick\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                    + "text-anchor=\"end\">%s</text>%n",
                    left, left + plotW, ty, ty, left - 6, ty + 4, esc(tickLabel(t))));
        }
        s.append(String.format(Locale.ROOT, "<text class=\"ylabel\" transform=\"translate(16,%.1f) rotate(-90)\" font-size=\"12\" "
                + "text-anchor=\"middle\">%s</text>%n", top + plotH / 2, esc(axisLabel + (log ? " (log scale)" : ""))));
        int nc = Math.max(1, categories.size());
        int ns = Math.max(1, seriesNames.size());
        double groupW = plotW / nc;
        double barW = Math.min(46, groupW * 0.84 / ns);
        double fontSize = Math.max(7, Math.min(11, barW * 0.75));
        for (int c = 0; c < categories.size(); c++) {
            double gx = left + groupW * c + (groupW - barW * ns) / 2;
            for (int k = 0; k < seriesValues.size(); k++) {
                double v = seriesValues.get(k)[c];
                if (Double.isNaN(v)) {
                    continue;
                }
                double x = gx + barW * k;
                double by = y.apply(v);
                double base = top + plotH;
                String label = valueFormat.apply(v);
                s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        + "fill=\"%s\"><title>%s, %s: %s</title></rect>%n", x + 0.5, by, Math.max(1, barW - 1),
                        Math.max(0.5, base - by), color(k), esc(seriesNames.get(k)), esc(categories.get(c)),
                        esc(label)));
                double tx = x + barW / 2 + fontSize * 0.35;
                if (base - by > label.length() * fontSize * 0.62 + 8) {
                    s.append(String.format(Locale.ROOT, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" "
                            + "font-size=\"%.1f\" fill=\"%s\">%s</text>%n", tx, by + 4 + label.length() * fontSize
                            * 0.6, fontSize, light(color(k)) ? "#000" : "#fff", esc(label)));
                } else {
                    s.append(String.format(Locale.ROOT, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" "
                            + "font-size=\"%.1f\" fill=\"#333\">%s</text>%n", tx, by - 3, fontSize, esc(label)));
                }
            }
            double catFont = Math.max(7, Math.min(12, groupW / (Math.max(1, categories.get(c).length()) * 0.62)));
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" "
                    + "text-anchor=\"middle\">%s</text>%n", left + groupW * (c + 0.5), top + plotH + 18, catFont,
                    esc(categories.get(c))));
        }
        s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                + "%n", left, left + plotW, top + plotH, top + plotH));
        s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                + "%n", left, left, top, top + plotH));
        s.append("</svg>\n");
        return s.toString();
    }

    /** Whether a bar colour needs dark text on it (yellow, sky blue, grey). */
    private static boolean light(String color) {
        return color.equals("#F0E442") || color.equals("#56B4E9") || color.equals("#999999");
    }

    private static String color(int i) {
        return PALETTE[i % PALETTE.length];
    }

    private static String tickLabel(double v) {
        if (v == 0) {
            return "0";
        }
        double a = Math.abs(v);
        if (a >= 1e9) {
            return trim(v / 1e9) + "G";
        }
        if (a >= 1e6) {
            return trim(v / 1e6) + "M";
        }
        if (a >= 1e4) {
            return trim(v / 1e3) + "k";
        }
        return trim(v);
    }

    private static String trim(double v) {
        if (v == Math.rint(v)) {
            return String.valueOf((long) v);
        }
        String s = String.format(Locale.ROOT, "%.3g", v);
        return s.contains(".") && !s.contains("e") ? s.replaceAll("0+$", "").replaceAll("\\.$", "") : s;
    }

    /** Escapes text for XML/HTML content and attributes. */
    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                default -> b.append(ch);
            }
        }
        return b.toString();
    }
}
