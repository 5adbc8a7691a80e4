import torch

def _gs_functional_input(t, create_graph=False):
    if create_graph and t.requires_grad:
        return t.view(t.shape)
    return t.detach().requires_grad_(True)

def _gs_jacobian(outputs, inputs, create_graph=False, strict=False):
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    rows = []
    for out in outs:
        flat = out.reshape(-1)
        parts = [[] for _ in ins]
        for k in range(flat.numel()):
            gs = torch.autograd.grad(flat[k], ins, retain_graph=True, create_graph=create_graph,
                                     allow_unused=True)
            for j, (g, i) in enumerate(zip(gs, ins)):
                parts[j].append(torch.zeros_like(i) if g is None else g)
        row = tuple(torch.stack(p).reshape(out.shape + i.shape) if p else
                    torch.zeros(out.shape + i.shape, dtype=i.dtype) for p, i in zip(parts, ins))
        rows.append(row if isinstance(inputs, tuple) else row[0])
    return tuple(rows) if isinstance(outputs, tuple) else rows[0]

def _gs_hessian(output, inputs, create_graph=False, strict=False):
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    grads = torch.autograd.grad(output, ins, create_graph=True, allow_unused=True)
    grads = tuple(torch.zeros_like(i) if g is None else g for g, i in zip(grads, ins))
    rows = tuple(_gs_jacobian(g, inputs, create_graph=create_graph) for g in grads)
    return rows if isinstance(inputs, tuple) else rows[0]

p = torch.tensor([1.0, 2.0])
_gs1_input_ = _gs_functional_input(p)
_gs2_x_, _gs3_y_ = (_gs1_input_[0], _gs1_input_[1])
_gs4_output_ = (((1 - _gs2_x_) ** 2) + (100 * ((_gs3_y_ - (_gs2_x_ ** 2)) ** 2)))
H = _gs_hessian(_gs4_output_, _gs1_input_)
print(H)
print('det(H) =', torch.det(H).item())
