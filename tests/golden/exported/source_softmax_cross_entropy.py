import torch
import torch.nn.functional as F

x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.3, -0.2]])
W = torch.tensor([[0.1, -0.2], [0.4, 0.3], [-0.5, 0.2]], requires_grad=True)
b = torch.zeros(size=[2], requires_grad=True)
target = torch.tensor([1, 0])
logits = ((x @ W) + b)
probs = torch.softmax(logits, dim=1)
loss = F.cross_entropy(logits, target)
loss.backward()
print(probs)
print(loss)
print(W.grad)
print(b.grad)
with torch.no_grad():
    W = W.sub_((W.grad * 0.1))
    b = b.sub_((b.grad * 0.1))
print(F.cross_entropy(((x @ W) + b), target))
