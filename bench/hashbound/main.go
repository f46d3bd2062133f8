// Command hashbound measures the login "hash bound" of bench/run.sh: the time of one bcrypt
// verification (golang.org/x/crypto/bcrypt.CompareHashAndPassword, the comparison PocketBase
// and the passwords pool use) at the users collection's cost, as the median of -runs
// sequential runs. The bound is cores ÷ that time: the most logins per second the machine
// could verify if it did nothing else.
//
// It also reports the measured throughput of cores parallel verifications, which is lower than
// the bound when the cores are SMT siblings or throttle under load (for information).
//
// Output, one line: cost=12 runs=20 cores=2 median_ms=... bound_per_s=... parallel_per_s=...
package main

import (
	"flag"
	"fmt"
	"log"
	"runtime"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	cost := flag.Int("cost", 12, "bcrypt cost (the users collection's password cost)")
	runs := flag.Int("runs", 20, "sequential verifications; the median is reported")
	parallelRounds := flag.Int("parallel-rounds", 3, "verifications per core for the parallel measurement (0 = skip)")
	flag.Parse()

	password := []byte("violet-harbor-42")
	hash, err := bcrypt.GenerateFromPassword(password, *cost)
	if err != nil {
		log.Fatal(err)
	}
	verify := func() {
		if err := bcrypt.CompareHashAndPassword(hash, password); err != nil {
			log.Fatal(err)
		}
	}

	times := make([]time.Duration, *runs)
	for i := range times {
		start := time.Now()
		verify()
		times[i] = time.Since(start)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	median := times[len(times)/2]
	if len(times)%2 == 0 {
		median = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	cores := runtime.NumCPU()
	bound := float64(cores) / median.Seconds()

	parallel := 0.0
	if *parallelRounds > 0 {
		var wg sync.WaitGroup
		start := time.Now()
		for range cores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range *parallelRounds {
					verify()
				}
			}()
		}
		wg.Wait()
		parallel = float64(cores**parallelRounds) / time.Since(start).Seconds()
	}

	fmt.Printf("cost=%d runs=%d cores=%d median_ms=%.1f min_ms=%.1f max_ms=%.1f bound_per_s=%.2f parallel_per_s=%.2f\n",
		*cost, *runs, cores, ms(median), ms(times[0]), ms(times[len(times)-1]), bound, parallel)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
