# latency_cdf.gp: distribution of request latency at a fixed request rate,
# one line per server.  Data: latency_cdf.dat (one block per server, in the
# order of |names|), written by bench/run.py, which runs
#   gnuplot -e "names='...'; rate=N" latency_cdf.gp   (in bench/charts/)
set terminal pngcairo size 900,560 font "DejaVu Sans,10"
set output "latency_cdf.png"
set logscale x
set xlabel "request latency, ms (log scale)"
set ylabel "fraction of requests"
set yrange [0:1]
set grid
set key bottom right
set title sprintf("latency CDF at %d requests/s (16 connections x 4 streams, 1 KiB)", rate)
plot for [i=0:words(names)-1] "latency_cdf.dat" index i using 1:2 with lines lw 2 \
     title word(names, i+1)
