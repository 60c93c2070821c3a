package ops

import "math"

// The row-at-a-time kernel that the tiled one in attention.go replaced, kept
// as a second reference for the tests and as the baseline of
// BenchmarkAttention (old and new timed in the same run).

// forwardRowwise computes one score row at a time with level-1 kernels.
func (op *Attention) forwardRowwise(out, qkv []float32) {
	c := op.cfg
	T, hd, H := c.T, c.HD, c.H
	stride := H * c.Parts() * hd
	scale := float32(1 / math.Sqrt(float64(hd)))
	op.ensureScratch(T)
	if op.lse == nil {
		op.lse = make([]float32, c.B*T*H)
	}
	parallelFor(c.B*H, 1, func(k, lo, hi int) {
		s, _ := op.workerScratch(k, T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/H, bh%H
			for t := 0; t < T; t++ {
				row := qkv[(b*T+t)*stride:]
				st := (bh*T + t) * hd
				q, kk := op.qn[st:st+hd], op.kn[st:st+hd]
				copy(q, row[c.off(0, h):c.off(0, h)+hd])
				copy(kk, row[c.off(1, h):c.off(1, h)+hd])
				if c.RoPE {
					cs, sn := op.cos[t*hd/2:(t+1)*hd/2], op.sin[t*hd/2:(t+1)*hd/2]
					Rope(q, q, cs, sn)
					Rope(kk, kk, cs, sn)
				}
				if c.QKNorm {
					op.rsq[bh*T+t] = rmsInPlace(q)
					op.rsk[bh*T+t] = rmsInPlace(kk)
				}
			}
			for i := 0; i < T; i++ {
				qi := op.qn[(bh*T+i)*hd : (bh*T+i+1)*hd]
				m := float32(math.Inf(-1))
				for j := 0; j <= i; j++ {
					s[j] = dot(qi, op.kn[(bh*T+j)*hd:(bh*T+j+1)*hd]) * scale
					m = max(m, s[j])
				}
				oi := op.o[(bh*T+i)*hd : (bh*T+i+1)*hd]
				zero(oi)
				var l float32
				for j := 0; j <= i; j++ {
					p := float32(math.Exp(float64(s[j] - m)))
					l += p
					vo := (b*T+j)*stride + c.off(2, h)
					axpy(p, qkv[vo:vo+hd], oi)
				}
				inv := 1 / l
				for d := range oi {
					oi[d] *= inv
				}
				op.lse[bh*T+i] = m + float32(math.Log(float64(l)))
				row := qkv[(b*T+i)*stride:]
				yo := (b*T+i)*H*hd + h*hd
				epilogue(out[yo:yo+hd], oi, row, nil, c, h)
			}
		}
	})
}

// backwardRowwise computes dqkv from qkv and dout using the saved forward state.
func (op *Attention) backwardRowwise(dqkv, qkv, dout []float32) {
	c := op.cfg
	T, hd, H := c.T, c.HD, c.H
	stride := H * c.Parts() * hd
	scale := float32(1 / math.Sqrt(float64(hd)))
	per := 3*T*hd + T
	op.ensureScratch(per)
	parallelFor(c.B*H, 1, func(k, lo, hi int) {
		sc, _ := op.workerScratch(k, per)
		dO, dQ, dK, D := sc[:T*hd], sc[T*hd:2*T*hd], sc[2*T*hd:3*T*hd], sc[3*T*hd:]
		for bh := lo; bh < hi; bh++ {
			b, h := bh/H, bh%H
			zero(dQ)
			zero(dK)
			// epilogue backward: dO, dv (xsa), dg (gate)
			for i := 0; i < T; i++ {
				row := qkv[(b*T+i)*stride:]
				drow := dqkv[(b*T+i)*stride:]
				o := op.o[(bh*T+i)*hd : (bh*T+i+1)*hd]
				gy := dout[(b*T+i)*H*hd+h*hd : (b*T+i)*H*hd+(h+1)*hd]
				do := dO[i*hd : (i+1)*hd]
				dv := drow[c.off(2, h) : c.off(2, h)+hd]
				zero(dv)
				copy(do, gy)
				var g []float32
				if c.Gate {
					g = row[c.off(3, h) : c.off(3, h)+hd]
				}
				if c.XSA {
					v := row[c.off(2, h) : c.off(2, h)+hd]
					nv := float32(math.Sqrt(float64(dot(v, v))))
					n := max(nv, xsaEps)
					// y1 = gated o; vn = v/n
					var a, cc float32 // a = y1.vn, cc = dy.vn
					for d := 0; d < hd; d++ {
						y1 := o[d]
						if g != nil {
							y1 *= sigmoid(g[d])
						}
						a += y1 * v[d] / n
						cc += gy[d] * v[d] / n
					}
					// dvn = -a dy - cc y1; dy1 = dy - cc vn
					var vdv float32
					for d := 0; d < hd; d++ {
						y1 := o[d]
						if g != nil {
							y1 *= sigmoid(g[d])
						}
						dvn := -a*gy[d] - cc*y1
						dv[d] = dvn // temporarily dvn
						vdv += v[d] / n * dvn
						do[d] = gy[d] - cc*v[d]/n
					}
					for d := 0; d < hd; d++ {
						if nv > xsaEps {
							dv[d] = (dv[d] - v[d]/n*vdv) / nv
						} else {
							dv[d] /= xsaEps
						}
					}
				}
				if c.Gate {
					dg := drow[c.off(3, h) : c.off(3, h)+hd]
					for d := 0; d < hd; d++ {
						s := sigmoid(g[d])
						dg[d] = do[d] * o[d] * s * (1 - s)
						do[d] *= s
					}
				}
				D[i] = dot(do, o)
			}
			// attention core backward with recomputed probabilities
			for i := 0; i < T; i++ {
				qi := op.qn[(bh*T+i)*hd : (bh*T+i+1)*hd]
				do := dO[i*hd : (i+1)*hd]
				dqi := dQ[i*hd : (i+1)*hd]
				lse := op.lse[bh*T+i]
				for j := 0; j <= i; j++ {
					kj := op.kn[(bh*T+j)*hd : (bh*T+j+1)*hd]
					p := float32(math.Exp(float64(dot(qi, kj)*scale - lse)))
					vo := (b*T+j)*stride + c.off(2, h)
					axpy(p, do, dqkv[vo:vo+hd])
					ds := p * (dot(do, qkv[vo:vo+hd]) - D[i]) * scale
					axpy(ds, kj, dqi)
					axpy(ds, qi, dK[j*hd:(j+1)*hd])
				}
			}
			// QK-norm and RoPE backward into dqkv
			for t := 0; t < T; t++ {
				drow := dqkv[(b*T+t)*stride:]
				for p, dx := range [][]float32{dQ[t*hd : (t+1)*hd], dK[t*hd : (t+1)*hd]} {
					if c.QKNorm {
						xn, rs := op.qn[(bh*T+t)*hd:(bh*T+t+1)*hd], op.rsq[bh*T+t]
						if p == 1 {
							xn, rs = op.kn[(bh*T+t)*hd:(bh*T+t+1)*hd], op.rsk[bh*T+t]
						}
						m := dot(dx, xn) / float32(hd)
						for d := range dx {
							dx[d] = rs * (dx[d] - xn[d]*m)
						}
					}
					if c.RoPE {
						ropeBwd(dx, op.cos[t*hd/2:(t+1)*hd/2], op.sin[t*hd/2:(t+1)*hd/2])
					}
					copy(drow[c.off(p, h):c.off(p, h)+hd], dx)
				}
			}
		}
	})
}
