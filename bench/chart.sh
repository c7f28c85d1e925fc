#!/usr/bin/env bash
# A clustered bar chart (PNG, gnuplot) of a whitespace-separated table whose
# first line names the columns and whose first column labels the rows
# (quoted when it has spaces); one bar per data column in each cluster.
#   bench/chart.sh TABLE PNG "TITLE" "Y LABEL" [FIRST_COL [LAST_COL]]
# Columns are counted from 1 (the label); the default is 2 to the last.
# LOGY=1 draws a logarithmic y axis.
set -euo pipefail
dat=$1 png=$2 title=$3 ylabel=$4
last=$(head -1 "$dat" | awk '{print NF}')
first=${5:-2}
last=${6:-$last}
command -v gnuplot >/dev/null || { echo "chart.sh: no gnuplot (Debian package gnuplot-nox): $png not written" >&2; exit 0; }
gnuplot <<EOF
set terminal pngcairo size 1100,460 font ",10" noenhanced
set output "$png"
set title "$title"
set ylabel "$ylabel"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top right autotitle columnheader
set grid ytics
$([ -n "${LOGY:-}" ] && echo "set logscale y" || echo "set yrange [0:*]")
set offsets 0, 0, graph 0.15, 0
set xtics font ",9" rotate by -20
plot for [c=$first:$last] "$dat" using c:xtic(1)
EOF
